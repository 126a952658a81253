"""The functions' environment: .env.example defaults, .env overrides, then the run's values."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.stack import (
    REPO_ROOT,
    STANDIN_SECRET_KEY,
    StackError,
    function_env,
    read_env_file,
    stripe_key_from_environment,
)


def test_env_file_lines_are_parsed_simply(tmp_path: Path) -> None:
    path = tmp_path / ".env.example"
    path.write_text(
        "# a comment\n"
        "\n"
        "PLAIN=value\n"
        "  SPACED  =  padded value  \n"
        "export EXPORTED=1\n"
        'DOUBLE="quoted # not a comment"\n'
        "SINGLE='x=y'\n"
        "EMPTY=\n"
        "URL=http://localhost:3000,http://127.0.0.1:3000\n"
        "HASH=abc#def\n"
    )
    assert read_env_file(path) == {
        "PLAIN": "value",
        "SPACED": "padded value",
        "EXPORTED": "1",
        "DOUBLE": "quoted # not a comment",
        "SINGLE": "x=y",
        "EMPTY": "",
        "URL": "http://localhost:3000,http://127.0.0.1:3000",
        "HASH": "abc#def",
    }


@pytest.mark.parametrize("line", ["NO_EQUALS_SIGN", "=value", "BAD KEY=1"])
def test_a_malformed_line_is_reported_with_its_line_number(tmp_path: Path, line: str) -> None:
    path = tmp_path / ".env"
    path.write_text(f"OK=1\n{line}\n")
    with pytest.raises(StackError, match=r"\.env:2: expected KEY=VALUE"):
        read_env_file(path)


def test_the_repository_env_example_parses() -> None:
    values = read_env_file(REPO_ROOT / ".env.example")
    assert values, ".env.example holds the functions' local defaults"
    assert not values.get("STRIPE_SECRET_KEY", "").startswith("sk_live_")


def test_later_sources_win_and_none_removes(tmp_path: Path) -> None:
    (tmp_path / ".env.example").write_text(
        "FROM_EXAMPLE=example\nIN_BOTH=example\nREMOVED=example\nRUN=example\nLOG_LEVEL=DEBUG\n"
    )
    (tmp_path / ".env").write_text("IN_BOTH=dotenv\nRUN=dotenv\nOVERRIDDEN=dotenv\n")

    env = function_env(
        {"RUN": "run", "REMOVED": None, "OVERRIDDEN": "run"},
        env_dir=tmp_path,
        overrides={"OVERRIDDEN": "override"},
    )

    assert env == {
        "LOG_LEVEL": "DEBUG",
        "FROM_EXAMPLE": "example",
        "IN_BOTH": "dotenv",
        "RUN": "run",
        "OVERRIDDEN": "override",
    }


def test_log_level_defaults_to_info_without_env_files(tmp_path: Path) -> None:
    assert function_env({}, env_dir=tmp_path) == {"LOG_LEVEL": "INFO"}


def test_no_stripe_key_or_the_standin_key_means_the_standin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    assert stripe_key_from_environment(tmp_path) is None
    monkeypatch.setenv("STRIPE_SECRET_KEY", STANDIN_SECRET_KEY)
    assert stripe_key_from_environment(tmp_path) is None


def test_a_test_key_comes_from_the_environment_before_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("STRIPE_SECRET_KEY=sk_test_fromdotenv\n")
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    assert stripe_key_from_environment(tmp_path) == "sk_test_fromdotenv"
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_fromshell")
    assert stripe_key_from_environment(tmp_path) == "sk_test_fromshell"


# Fake keys are assembled at run time so no key-shaped literal sits in the repository.
FAKE_SUFFIX = "abc123" + "secret"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("sk_live_" + FAKE_SUFFIX, "live-mode key"),
        ("pk_test_" + FAKE_SUFFIX, "not a Stripe test key"),
    ],
)
def test_live_and_unknown_keys_are_refused_without_echoing_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, message: str
) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", key)
    with pytest.raises(StackError, match=message) as raised:
        stripe_key_from_environment(tmp_path)
    assert FAKE_SUFFIX not in str(raised.value)


def test_sourcing_the_env_example_in_bash_gives_what_the_stack_parses() -> None:
    import subprocess

    expected = read_env_file(REPO_ROOT / ".env.example")
    names = "|".join(sorted(expected))
    # `set -a` exports each assignment; `env -0` prints them unambiguously (values may hold
    # spaces, '=' or '?'). A value a shell cannot take (an unquoted space runs a command)
    # fails the sourcing, and `set -e` makes that fail the script.
    script = f"set -euo pipefail; set -a; . ./.env.example; set +a; env -0 | grep -zE '^({names})='"
    done = subprocess.run(  # noqa: S603 - our own script
        ["bash", "-c", script],  # noqa: S607
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    sourced = dict(item.split("=", 1) for item in done.stdout.decode().split("\0") if item)
    assert sourced == expected

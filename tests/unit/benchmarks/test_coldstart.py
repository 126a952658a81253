"""The cold-start section's before side starts in an environment of its own requirements, and a
before side that refuses today's first request is left out for that function, not the run."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from benchmarks import coldstart, runtime_env
from benchmarks.report import markdown

TODAY, BEFORE = Path("/env/today/bin"), Path("/env/before/bin")


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Path, Path]]:
    """Every start the section makes: (target, source, environment)."""
    starts: list[tuple[str, Path, Path]] = []

    def runtime_bin(requirements: Path = runtime_env.REQUIREMENTS) -> Path:
        return TODAY if requirements == runtime_env.REQUIREMENTS else BEFORE

    def cold_start(bench: Any, target: str, source: Path, request: Any, env: Path) -> Any:
        starts.append((target, source, env))
        if env == BEFORE and target == "reconcile":
            raise coldstart.FirstAnswerRefused("first answer 400: b'uids: is not a known field'")
        return coldstart.Start(port_s=0.5, first_200_s=1.0, cpu_s=0.8)

    monkeypatch.setattr(runtime_env, "runtime_bin", runtime_bin)
    monkeypatch.setattr(runtime_env, "deployed_copy", lambda main, into, compiled=True: into)
    monkeypatch.setattr(coldstart, "cold_start", cold_start)
    return starts


def _run(baseline: Path | None) -> dict[str, Any]:
    bench: Any = SimpleNamespace(stack=SimpleNamespace(functions_source=Path("/tree/main.py")))
    requests: dict[str, Any] = {"create_customer": None, "reconcile": None}
    return coldstart.run(bench, requests, rounds=3, baseline=baseline)


def test_the_baseline_starts_in_its_own_requirements(
    started: list[tuple[str, Path, Path]],
) -> None:
    report = _run(Path("/old/functions/main.py"))
    baseline_starts = [env for _, source, env in started if source.name == "baseline"]
    assert baseline_starts
    assert set(baseline_starts) == {BEFORE}
    assert {env for _, source, env in started if source.name != "baseline"} == {TODAY}
    assert "baseline" in report["functions"]["create_customer"]


def test_a_refused_baseline_is_left_out_for_that_function_only(
    started: list[tuple[str, Path, Path]],
) -> None:
    report = _run(Path("/old/functions/main.py"))
    assert "baseline" not in report["functions"]["reconcile"]
    assert "uids: is not a known field" in report["baseline_refused"]["reconcile"]
    # Asked once, then no more of it in the later rounds.
    assert len([s for s in started if s[0] == "reconcile" and s[2] == BEFORE]) == 1
    assert "ours" in report["functions"]["reconcile"]
    table = markdown({"cold_start": report})
    assert "reconcile [baseline]" in table
    assert "refused" in table


def test_our_own_refusal_fails_the_run(
    started: list[tuple[str, Path, Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(bench: Any, target: str, source: Path, request: Any, env: Path) -> Any:
        raise coldstart.FirstAnswerRefused("first answer 500")

    monkeypatch.setattr(coldstart, "cold_start", refuse)
    with pytest.raises(coldstart.FirstAnswerRefused):
        _run(None)

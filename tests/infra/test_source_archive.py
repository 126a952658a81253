"""The archive Terraform deploys: functions/ staged with every module's bytecode for Python 3.12
(tools/build_source.py, `make infra-source`), and a plan that refuses a staging that is missing
or is not the current tree, so compiled bytecode can never ship old code.
"""

from __future__ import annotations

import copy
import marshal
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.infra import (
    BASE_VARS,
    INFRA,
    REPO,
    Evaluation,
    evaluate,
    load_tf,
    real_manifest,
)
from tools import build_source

# PEP 552: the flags word of a hash-based .pyc whose hash the interpreter checks.
CHECKED_HASH = 0b11


def bytecode_of(module: str) -> str:
    """``billing/x.py`` -> ``billing/__pycache__/x.cpython-312.pyc``."""
    folder, _, name = module.rpartition("/")
    stem = name.removesuffix(".py")
    return f"{folder + '/' if folder else ''}__pycache__/{stem}.cpython-312.pyc"


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_source.build(tmp_path_factory.mktemp("staged") / "source")


def test_every_module_ships_with_checked_bytecode_and_relative_paths(staged: Path) -> None:
    modules = [f for f in build_source.source_files() if f.endswith(".py")]
    assert "main.py" in modules
    assert "billing/http/shell.py" in modules
    shipped = {p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file()}
    assert shipped == {*build_source.source_files(), "requirements.txt", *map(bytecode_of, modules)}
    for module in modules:
        data = (staged / bytecode_of(module)).read_bytes()
        assert int.from_bytes(data[4:8], "little") == CHECKED_HASH, module
        # Relative to the archive's root: the same bytes on any machine that builds it.
        assert marshal.loads(data[16:]).co_filename  # noqa: S302 - our own build == module
    assert (staged / "requirements.txt").read_bytes() == (REPO / "requirements.txt").read_bytes()


def test_the_staging_is_the_same_bytes_when_built_again(staged: Path, tmp_path: Path) -> None:
    again = build_source.build(tmp_path / "again")
    files = sorted(p.relative_to(staged) for p in staged.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert [f for f in files if (staged / f).read_bytes() != (again / f).read_bytes()] == []


def test_the_functions_framework_starts_from_the_bytecode(staged: Path) -> None:
    # A browser function answers a call without a token, in a process that may not write
    # bytecode: every module of ours it loaded must have come from the shipped .pyc.
    script = textwrap.dedent(
        """
        import sys
        from functions_framework import create_app
        app = create_app("retrieve_subscription", "main.py")
        answer = app.test_client().post("/", json={})
        ours = sorted(m.__file__ for m in list(sys.modules.values())
                      if (getattr(m, "__file__", None) or "").startswith(sys.argv[1]))
        print("STATUS", answer.status_code)
        print("\\n".join("OURS " + f for f in ours))
        """
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(staged),
        "PYTHONDONTWRITEBYTECODE": "1",
        "GOOGLE_CLOUD_PROJECT": "demo-archive",
        "STRIPE_SECRET_KEY": "sk_test_archive",
        "ALLOWED_PRICE_IDS": "price_archive",
    }
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-v", "-c", script, str(staged)],
        cwd=staged, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "STATUS 401" in done.stdout.splitlines()
    loaded = [line.removeprefix("OURS ") for line in done.stdout.splitlines() if "OURS " in line]
    assert len(loaded) > 20
    assert str(staged / "main.py") in loaded
    from_bytecode = set(re.findall(r"# code object from '([^']+)'", done.stderr))
    not_from_bytecode = [
        path
        for path in loaded
        if str(staged / bytecode_of(str(Path(path).relative_to(staged)))) not in from_bytecode
    ]
    assert not_from_bytecode == []


def test_the_build_refuses_another_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build_source, "RUNTIME", (3, 11))
    with pytest.raises(SystemExit, match=r"Python 3\.11"):
        build_source.build(tmp_path / "never")
    assert not (tmp_path / "never").exists()


def _evaluate(workdir: Path, stage: bool, spoil: bool = False) -> Evaluation:
    def prepare(infra: Path) -> None:
        if not stage:
            return
        target = infra / ".build" / "source"
        build_source.build(target)
        if spoil:
            (target / "billing" / "auth.py").write_text("# an older auth.py\n")
            (target / bytecode_of("billing/errors.py")).unlink()
            (target / "billing" / "removed_since.py").write_text("")

    variables = copy.deepcopy(BASE_VARS)
    result = evaluate(workdir, real_manifest(), variables, prepare=prepare)
    assert result.ok, result.error
    return result


def test_the_plan_takes_a_fresh_staging_and_names_what_a_stale_one_lacks(tmp_path: Path) -> None:
    fresh = _evaluate(tmp_path / "fresh", stage=True)
    assert fresh.outputs["source_build_problems"] == []
    # The two file rules agree: the staging holds what Terraform calls the source.
    assert fresh.outputs["source_files"] == build_source.source_files()

    stale = _evaluate(tmp_path / "stale", stage=True, spoil=True)
    assert stale.outputs["source_build_problems"] == [
        "billing/__pycache__/errors.cpython-312.pyc (bytecode) is missing",
        "billing/auth.py differs from the repository's",
        "billing/removed_since.py is not in the repository",
    ]

    missing = _evaluate(tmp_path / "missing", stage=False)
    assert "main.py is missing" in missing.outputs["source_build_problems"]
    assert "requirements.txt is missing" in missing.outputs["source_build_problems"]


def test_the_archive_is_zipped_from_the_staging_only_when_it_has_no_problem() -> None:
    (archive,) = [
        block['"archive_file"']['"source"']
        for block in load_tf(INFRA / "source.tf")["data"]
        if '"archive_file"' in block
    ]
    assert archive["source_dir"] == "${local.source_build_dir}"
    (precondition,) = archive["lifecycle"][0]["precondition"]
    assert precondition["condition"] == "${length(local.source_build_problems) == 0}"
    assert "make infra-source" in precondition["error_message"]


def test_the_pipelines_stage_the_source_with_the_tested_python_before_planning() -> None:
    for name in ("cloudbuild.yaml", "cloudbuild-pr.yaml"):
        text = (REPO / name).read_text()
        assert text.index("make test") < text.index("make infra-source") < text.index("id: plan"), (
            name
        )
    assert "make infra-source" in (REPO / "docs" / "deploy.md").read_text().split("apply tfplan")[0]


def test_the_staging_is_not_committed() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "infra/.build/source/main.py"],  # noqa: S607
        cwd=REPO, check=False,
    )  # fmt: skip
    assert ignored.returncode == 0

"""The email function renders from the compiled templates (functions/mailer/templates_compiled/,
`make mail-templates`): they must be exactly what the templates compile to now, and render
every mail exactly as the templates do."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jinja2 import FileSystemLoader, ModuleLoader

from mailer import compose
from mailer.compose import Brand, Composer, recipient
from mailer.contract import parse
from tests.conftest import mail_settings
from tools import mail_templates
from tools.mail_samples import MARCH_1_2026, SAMPLES


def test_the_compiled_templates_are_what_the_templates_compile_to() -> None:
    assert mail_templates.differences() == []


def test_a_changed_template_is_reported_stale(tmp_path: Path) -> None:
    copy = tmp_path / "compiled"
    copy.mkdir()
    modules = mail_templates.compile_into(copy)
    modules[0].write_text(modules[0].read_text().replace("name = ", "name  = ", 1))
    modules[1].unlink()
    (copy / "tmpl_gone.py").write_text("")
    assert mail_templates.differences(copy) == [
        f"missing {modules[1].name}",
        "not a template's: tmpl_gone.py",
        f"stale {modules[0].name}",
    ]


def test_one_module_per_template() -> None:
    templates = sorted(p.name for p in compose.TEMPLATES.iterdir() if p.is_file())
    loader = ModuleLoader(compose.COMPILED)
    for name in templates:
        assert (compose.COMPILED / f"{loader.get_module_filename(name)}").is_file(), name


def test_the_composer_renders_from_the_compiled_modules_by_default() -> None:
    composer = Composer(Brand.from_settings(mail_settings()))
    assert isinstance(composer._env.loader, ModuleLoader)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_mail_renders_the_same_from_the_compiled_modules(name: str) -> None:
    brand = Brand.from_settings(mail_settings())
    note = parse(json.dumps(SAMPLES[name]).encode())
    now = datetime.fromtimestamp(MARCH_1_2026, UTC)
    compiled = Composer(brand).compose(note, recipient(note), now)
    sources = Composer(brand, FileSystemLoader(compose.TEMPLATES)).compose(
        note, recipient(note), now
    )
    assert compiled.items() == sources.items()
    assert [part.get_content() for part in compiled.iter_parts()] == [
        part.get_content() for part in sources.iter_parts()
    ]
    assert len(list(compiled.iter_parts())) == 2

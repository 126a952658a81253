"""The email function renders from the compiled templates (functions/mailer/templates_compiled/,
`make mail-templates`): they must be exactly what the templates compile to now, and render
every mail exactly as the templates do."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


def test_compiled_templates_are_loaded_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # jinja2's ModuleLoader takes each imported template out of sys.modules: two threads
    # loading one template at once made the slower import fail (KeyError, ten concurrent
    # deliveries in tests/integration/test_email.py). Here each load waits, up to a deadline,
    # for a second one to come in beside it: one at a time, none ever does.
    arrived = threading.Condition()
    inside, most = 0, 0

    def load(self: ModuleLoader, environment: Any, name: str, globals: Any = None) -> Any:
        nonlocal inside, most
        with arrived:
            inside += 1
            most = max(most, inside)
            arrived.notify_all()
            arrived.wait_for(lambda: inside >= 2, timeout=1.0)
            inside -= 1
        return name

    monkeypatch.setattr(ModuleLoader, "load", load)
    loader = compose.SerialModuleLoader(compose.COMPILED)
    loads = [threading.Thread(target=loader.load, args=(None, "receipt.html")) for _ in range(2)]
    for thread in loads:
        thread.start()
    for thread in loads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in loads)
    assert most == 1


def test_the_composer_loads_its_templates_one_at_a_time() -> None:
    composer = Composer(Brand.from_settings(mail_settings()))
    assert isinstance(composer._env.loader, compose.SerialModuleLoader)

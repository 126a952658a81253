"""The package map in ``billing/__init__.py`` names every module of the package, and only those."""

from __future__ import annotations

import re
from pathlib import Path

import billing

ROOT = Path(billing.__file__).parent


def _on_disk() -> set[str]:
    names = set()
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.name == "__init__.py":
            if rel.parent != Path():
                names.add("/".join(rel.parent.parts) + "/")
            continue
        names.add("/".join((*rel.parent.parts, rel.stem)))
    return names


def _in_map() -> set[str]:
    doc = billing.__doc__ or ""
    names = set()
    room = ""
    for line in doc.splitlines():
        match = re.match(r"^( *)- ``([\w/]+)``", line)
        if match is None:
            continue
        indent, name = len(match.group(1)), match.group(2)
        if indent == 0:
            room = name if name.endswith("/") else ""
            names.add(name)
        else:
            names.add(room + name)
    return names


def test_the_map_names_every_module_and_only_existing_ones() -> None:
    on_disk, in_map = _on_disk(), _in_map()
    assert on_disk - in_map == set(), "modules missing from the map in billing/__init__.py"
    assert in_map - on_disk == set(), (
        "the map in billing/__init__.py names modules that do not exist"
    )

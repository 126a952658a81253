"""docs/frontend.md against what it describes: its tfvars `settings` example is the shape of
infra's real `settings` variable, and its install command is the one the set-up runs."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support import docs as markdown

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "frontend.md"


def _settings_type() -> dict[str, bool]:
    """infra/variables.tf's `settings` attributes -> required (not optional(...))."""
    text = (REPO / "infra" / "variables.tf").read_text()
    body = text.split('variable "settings" {', 1)[1].split("type = object({", 1)[1]
    body = body.split("})", 1)[0]
    return {
        name: not kind.strip().startswith("optional(")
        for name, kind in re.findall(r"^\s*(\w+)\s*=\s*(.+)$", body, re.MULTILINE)
    }


def test_the_tfvars_settings_example_matches_infras_variable() -> None:
    [example] = [
        b.code for b in markdown.blocks(PAGE) if b.language == "hcl" and "settings" in b.code
    ]
    keys = re.findall(r"^\s*(\w+)\s*=", example.split("{", 1)[1], re.MULTILINE)
    declared = _settings_type()
    assert declared, "infra/variables.tf declares settings"
    assert sorted(set(keys) - set(declared)) == [], "keys infra's settings variable does not have"
    required = sorted(name for name, needed in declared.items() if needed)
    assert sorted(set(required) - set(keys)) == [], "required settings the example leaves out"
    for url in re.findall(r'"(https?://[^"]+)"', example):
        assert url.startswith("https://"), "infra refuses return URLs that are not https"


def test_the_npm_install_in_the_docs_is_the_set_ups() -> None:
    setup = (REPO / "scripts" / "setup").read_text()
    assert "npm ci --ignore-scripts" in setup
    commands = [
        line
        for block in markdown.blocks(PAGE)
        for line in block.code.splitlines()
        if "npm ci" in line
    ]
    assert commands, "the deploy steps install web/'s packages"
    assert all("npm ci --ignore-scripts" in line for line in commands), commands

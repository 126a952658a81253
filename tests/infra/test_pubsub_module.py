"""modules/pubsub-push holds what infra/pubsub.tf, usage.tf and monitoring.tf each declared (a
topic pushed to event functions, its dead-letter topic and subscription, the service agent's
grants, the alert), and an existing deployment plans no destroy and no re-create: every resource
it holds (tests/infra/pubsub_before_module.json, read from those files at b64cf1cf) is still
declared, or moved by a ``moved`` block to the module, with the same arguments.

No provider can be downloaded here, so Terraform cannot plan this configuration; instead each
moved resource's arguments are rebuilt from the module as the root calls it (its variables, its
own addresses and the root's locals put back) and compared with the old ones, argument for
argument. A changed name, topic, role or member would make Terraform replace the resource.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.infra import INFRA, load_tf

MODULE = INFRA / "modules" / "pubsub-push"
SOURCE = '"./modules/pubsub-push"'
BEFORE = json.loads(Path(__file__).with_name("pubsub_before_module.json").read_text())
OLD: dict[str, Any] = BEFORE["resources"]
ROOT_FILES = sorted(INFRA.glob("*.tf"))
META = {"depends_on", "for_each", "lifecycle", "provider", "count"}
REFERENCE = re.compile(r"\b((?:google|data)_\w+)\.(\w+)\b")


def unquote(label: str) -> str:
    return label.strip('"')


def clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def resources(paths: list[Path]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for path in paths:
        for entry in load_tf(path).get("resource", []):
            for rtype, named in entry.items():
                for name, args in named.items():
                    found[f"{unquote(rtype)}.{unquote(name)}"] = clean(args)
    return found


def blocks(paths: list[Path], kind: str) -> list[dict[str, Any]]:
    return [clean(entry) for path in paths for entry in load_tf(path).get(kind, [])]


def root_locals() -> dict[str, str]:
    return {k: v for entry in blocks(ROOT_FILES, "locals") for k, v in entry.items()}


def calls() -> dict[str, dict[str, Any]]:
    found = {}
    for entry in blocks(ROOT_FILES, "module"):
        for name, args in entry.items():
            if args["source"] == SOURCE:
                found[unquote(name)] = args
    return found


def moves() -> dict[str, str]:
    """old address -> new address, from the root's ``moved`` blocks."""
    pattern = re.compile(r"^\$\{(.*)\}$")
    found = {}
    for entry in blocks(ROOT_FILES, "moved"):
        old = pattern.sub(r"\1", entry["from"])
        new = pattern.sub(r"\1", entry["to"])
        assert old not in found, f"{old} is moved twice"
        found[old] = new
    return found


MODULE_RESOURCES = resources(sorted(MODULE.glob("*.tf")))
MODULE_OUTPUTS = {
    unquote(name): clean(args)["value"]
    for entry in blocks(sorted(MODULE.glob("*.tf")), "output")
    for name, args in entry.items()
}


class Call:
    """The module as the root calls it under ``name``: its text rewritten into the root's."""

    def __init__(self, name: str, args: dict[str, Any], moved: dict[str, str]) -> None:
        self.name = name
        self.args = args
        prefix = f"module.{name}."
        # the module's own address -> the root address it had before
        self.old_of = {
            new.removeprefix(prefix): old for old, new in moved.items() if new.startswith(prefix)
        }
        header = re.match(
            r"^\$\{\{for (\w+), (\w+) in ([\w.]+) : \1 => \{(.*)\}\}\}$", args["endpoints"]
        )
        assert header, f"module.{name}: endpoints is a for expression over a map of functions"
        self.key, self.value, self.collection, body = header.groups()
        self.fields = dict(part.split(" = ", 1) for part in body.split(", "))

    def field(self, name: str) -> str:
        text = self.fields[name].replace(f"[{self.key}]", "[each.key]")
        return re.sub(rf"\b{self.value}\.", "each.value.", text)

    def expression(self, text: str) -> str:
        """A module expression, rewritten as the root would have written it."""
        text = re.sub(r"\beach\.value\.(\w+)", lambda m: self.field(m.group(1)), text)
        text = re.sub(r"\bvar\.endpoints\b", self.collection, text)
        text = re.sub(r"\bvar\.pubsub_agent\b", self.args["pubsub_agent"][2:-1], text)
        text = re.sub(r"\bvar\.delivery\b", self.args["delivery"][2:-1], text)
        return REFERENCE.sub(
            lambda m: self.old_of.get(f"{m.group(1)}.{m.group(2)}", m.group(0)), text
        )

    def leaf(self, text: str) -> str:
        alert = self.args["alert"]
        whole = re.fullmatch(r"\$\{var\.alert\.(\w+)\}", text)
        if whole:
            return self.expression(alert[whole.group(1)])

        def inline(match: re.Match[str]) -> str:
            value: str = alert[match.group(1)]
            return value[1:-1] if value.startswith('"') else value

        return self.expression(re.sub(r"\$\{var\.alert\.(\w+)\}", inline, text))


def rewrite(value: Any, leaf: Any) -> Any:
    if isinstance(value, dict):
        return {k: rewrite(v, leaf) for k, v in value.items() if k not in META}
    if isinstance(value, list):
        return [rewrite(v, leaf) for v in value]
    return leaf(value) if isinstance(value, str) else value


def normalized(value: Any) -> Any:
    """Both sides alike where the text differs and the value cannot: a root local read in
    place, a resource's ``name`` attribute as its configured name, a heredoc's indentation."""
    local_values = root_locals()

    def leaf(text: str) -> str:
        whole = re.fullmatch(r"\$\{local\.(\w+)\}", text)
        if whole and whole.group(1) in local_values:
            text = local_values[whole.group(1)]
        for _ in range(3):
            text = re.sub(
                r"\$\{((?:google)_\w+\.\w+)\.name\}",
                lambda m: OLD[m.group(1)]["name"][1:-1] if m.group(1) in OLD else m.group(0),
                text,
            )
        if text.startswith('"<<-EOT'):
            text = "\n".join(line.strip() for line in text.splitlines())
        return text

    return rewrite(value, leaf)


def current(address: str, moved: dict[str, str], every_call: dict[str, Call]) -> Any:
    """The resource now at ``address``'s place, in the old configuration's words."""
    root = resources(ROOT_FILES)
    if address in root:
        outputs = {
            f"module.{name}.{output}": call.expression(value[2:-1])
            for name, call in every_call.items()
            for output, value in MODULE_OUTPUTS.items()
        }
        pattern = re.compile(r"\bmodule\.\w+\.\w+\b")
        return rewrite(
            root[address], lambda t: pattern.sub(lambda m: outputs.get(m.group(0), m.group(0)), t)
        )
    name, _, inner = moved[address].removeprefix("module.").partition(".")
    return rewrite(MODULE_RESOURCES[inner], every_call[name].leaf)


@pytest.fixture(scope="module")
def every_call() -> dict[str, Call]:
    moved = moves()
    return {name: Call(name, args, moved) for name, args in calls().items()}


def test_the_notifications_and_usage_each_call_the_module() -> None:
    assert sorted(calls()) == ["notifications", "usage"]


def test_every_resource_a_deployment_holds_is_still_declared_or_moved_into_the_module() -> None:
    root, moved, module_calls = resources(ROOT_FILES), moves(), calls()
    for address in OLD:
        if address in root:
            assert address not in moved, f"{address} is declared and moved"
            continue
        assert address in moved, f"{address} is gone: Terraform would destroy it"
        name, _, inner = moved[address].removeprefix("module.").partition(".")
        assert name in module_calls, f"{address} moves to module.{name}, which is not called"
        assert inner in MODULE_RESOURCES, f"{address} moves to {inner}, not in the module"
        assert inner.split(".")[0] == address.split(".")[0], f"{address} changes type"


def test_the_module_creates_nothing_a_deployment_does_not_already_hold() -> None:
    moved = moves()
    for name in calls():
        targets = {new for new in moved.values() if new.startswith(f"module.{name}.")}
        assert targets == {f"module.{name}.{inner}" for inner in MODULE_RESOURCES}, name


@pytest.mark.parametrize("address", sorted(OLD))
def test_each_resource_keeps_its_arguments(address: str, every_call: dict[str, Call]) -> None:
    before = normalized(rewrite(OLD[address], lambda text: text))
    after = normalized(current(address, moves(), every_call))
    assert after == before


ITERATED = sorted(address for address, args in OLD.items() if "for_each" in args)


@pytest.mark.parametrize("address", ITERATED)
def test_each_resource_keeps_its_instances(address: str, every_call: dict[str, Call]) -> None:
    moved = moves()
    if address in resources(ROOT_FILES):
        assert resources(ROOT_FILES)[address]["for_each"] == OLD[address]["for_each"]
        return
    name, _, inner = moved[address].removeprefix("module.").partition(".")
    # The module iterates over the endpoints the root builds from the same map, key for key.
    assert (
        every_call[name].expression(MODULE_RESOURCES[inner]["for_each"]) == OLD[address]["for_each"]
    )


def test_the_check_sees_a_renamed_dead_letter_topic(every_call: dict[str, Call]) -> None:
    renamed = dict(MODULE_RESOURCES["google_pubsub_topic.dead_letter"])
    renamed["name"] = '"${var.delivery.topic}-dlq"'
    before = normalized(OLD["google_pubsub_topic.usage_dead_letter"])
    assert (
        normalized(
            rewrite(MODULE_RESOURCES["google_pubsub_topic.dead_letter"], every_call["usage"].leaf)
        )
        == before
    )
    assert normalized(rewrite(renamed, every_call["usage"].leaf)) != before

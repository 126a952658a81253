"""The shapes of Stripe's objects, from the TypeScript types of the npm package ``stripe``.

Those types are generated from Stripe's spec for the same API version stripe-python 16 pins
(stripe 23.x, 2026-10-28.endive). In them ``field: T`` is always sent, ``| null`` may be
null, and ``field?: T`` may be *omitted*: Stripe leaves it out rather than sending null.
stripe-python raises ``AttributeError`` for an omitted field, so a stand-in that sent
``null`` there would let code pass locally that crashes on Stripe.

``shapes.json`` beside this file is generated, and committed, with::

    npm pack stripe@23 && tar xzf stripe-23.*.tgz
    python -m devstack.stripe_standin.shapes package/esm/resources \
        > devstack/stripe_standin/shapes.json

:func:`problems` checks a rendered object (and every object nested in it) against them.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from pathlib import Path
from typing import Any

SHAPES_FILE = Path(__file__).with_name("shapes.json")

_OPEN = re.compile(
    r"^(\s*)(?:export )?(?:declare )?(interface|namespace) (\w+)(?: extends [^{]+)? \{$"
)
_FIELD = re.compile(r"^\s*(\w+)(\??):\s*(.*)$")
_REF = re.compile(r"^(?:Array<)?([A-Z][\w.]*)>?$")


def _parse_file(text: str, into: dict[str, dict[str, Any]]) -> None:
    """Interfaces (qualified by their namespaces) -> {field: [optional, nullable, type]}."""
    scopes: list[tuple[str, str]] = []  # (kind, name)
    depth_of: list[int] = []
    depth = 0
    pending: str | None = None
    in_comment = False
    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if in_comment or stripped.startswith("/*"):
            in_comment = not stripped.endswith("*/")
            continue
        opened = _OPEN.match(line)
        if opened and pending is None:
            depth += 1
            scopes.append((opened.group(2), opened.group(3)))
            depth_of.append(depth)
            continue
        if pending is not None:
            pending += " " + stripped
        elif scopes and scopes[-1][0] == "interface" and depth == depth_of[-1]:
            field = _FIELD.match(line)
            if field and not line.startswith(" " * (4 * depth + 4)):
                pending = line
        depth += line.count("{") - line.count("}")
        if pending is not None and pending.endswith(";") and depth == depth_of[-1]:
            name, optional, kind = _FIELD.match(pending).groups()  # type: ignore[union-attr]
            parts = [p.strip() for p in kind.rstrip(";").split("|")]
            qualified = ".".join(n for _, n in scopes)
            into.setdefault(qualified, {})[name] = [
                optional == "?",
                "null" in parts,
                " | ".join(p for p in parts if p != "null"),
            ]
            pending = None
        while scopes and depth < depth_of[-1]:
            kind_name = scopes.pop()
            depth_of.pop()
            if kind_name[0] == "interface":
                into.setdefault(".".join([*(n for _, n in scopes), kind_name[1]]), {})


def _resolve(shapes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Replace each field's type by the interface it names (resolved in its scope), or None."""
    resolved: dict[str, Any] = {"interfaces": {}, "objects": {}}
    for name, fields in shapes.items():
        scope = name.split(".")
        out = {}
        for field, (optional, nullable, kind) in fields.items():
            ref = None
            found = _REF.match(kind)
            if found:
                for cut in range(len(scope), -1, -1):
                    candidate = ".".join([*scope[:cut], found.group(1)])
                    if candidate in shapes:
                        ref = candidate
                        break
            out[field] = {"optional": optional, "nullable": nullable, "ref": ref}
            if field == "object" and "." not in name:
                literal = kind.strip("'")
                if re.fullmatch(r"[a-z_.]+", literal):
                    resolved["objects"].setdefault(literal, name)
        resolved["interfaces"][name] = out
    return resolved


# The objects the stand-in renders; the file keeps only what they reach.
OBJECTS = (
    "customer", "event", "invoice", "invoice_payment", "line_item", "payment_intent",
    "payment_method", "plan", "price", "product", "setup_intent", "subscription",
    "subscription_item",
)  # fmt: skip


def generate(resources: Path) -> dict[str, Any]:
    parsed: dict[str, dict[str, Any]] = {}
    for path in sorted(resources.glob("*.d.ts")):  # top level: Checkout etc. live in folders
        _parse_file(path.read_text(), parsed)
    everything = _resolve(parsed)
    objects = {kind: everything["objects"][kind] for kind in OBJECTS}
    keep: set[str] = set()
    pending = list(objects.values())
    while pending:
        name = pending.pop()
        if name in keep:
            continue
        keep.add(name)
        pending.extend(
            spec["ref"] for spec in everything["interfaces"][name].values() if spec["ref"]
        )
    interfaces = {name: everything["interfaces"][name] for name in sorted(keep)}
    return {"objects": objects, "interfaces": interfaces}


@functools.cache
def _shapes() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SHAPES_FILE.read_text())
    return loaded


def problems(obj: Any, where: str = "") -> list[str]:
    """Where ``obj`` (a rendered API object) differs from Stripe's published shape."""
    found: list[str] = []
    _check_value(obj, None, where or "$", found)
    return found


def _check_value(value: Any, interface: str | None, path: str, found: list[str]) -> None:
    shapes = _shapes()
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check_value(item, interface, f"{path}[{index}]", found)
        return
    if not isinstance(value, dict):
        return
    kind = value.get("object")
    if isinstance(kind, str) and kind == "list":
        _check_value(value.get("data", []), None, f"{path}.data", found)
        return
    if isinstance(kind, str) and kind in shapes["objects"]:
        interface = shapes["objects"][kind]
    if interface is None:
        return
    fields = shapes["interfaces"][interface]
    if not fields:  # declared open (previous_attributes): any of the object's fields
        return
    for key, item in value.items():
        spec = fields.get(key)
        if spec is None:
            found.append(f"{path}.{key}: not a field of {interface}")
            continue
        if item is None and not spec["nullable"]:
            found.append(
                f"{path}.{key}: null, where Stripe omits the field ({interface})"
                if spec["optional"]
                else f"{path}.{key}: null, but {interface}.{key} is never null"
            )
        else:
            _check_value(item, spec["ref"], f"{path}.{key}", found)
    for key, spec in fields.items():
        if not spec["optional"] and key not in value:
            found.append(f"{path}.{key}: missing ({interface} always has it)")


if __name__ == "__main__":
    sys.stdout.write(json.dumps(generate(Path(sys.argv[1])), indent=1, sort_keys=True) + "\n")

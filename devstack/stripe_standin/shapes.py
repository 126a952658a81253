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

Resources in folders (``Checkout/Sessions.d.ts``) are qualified by the folder
(``Checkout.Session``), as the SDK's namespaces are, since several folders reuse a name
(``Session``). A type is resolved as TypeScript does: the declaring file's own namespaces
first, then what the file imports.

:func:`problems` checks a rendered object (and every object nested in it) against them.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

SHAPES_FILE = Path(__file__).with_name("shapes.json")

_OPEN = re.compile(
    r"^(\s*)(?:export )?(?:declare )?(interface|namespace) (\w+)(?: extends [^{]+)? \{$"
)
_FIELD = re.compile(r"^\s*(\w+)(\??):\s*(.*)$")
_REF = re.compile(r"^(?:Array<)?([A-Z_][\w.]*)>?$")  # _Discount: an aliased import
_IMPORT_NAMES = re.compile(r"^import \{([^}]*)\} from '([^']+)';", re.MULTILINE)
_IMPORT_ALL = re.compile(r"^import \* as (\w+) from '([^']+)';", re.MULTILINE)


@dataclass
class _Parsed:
    """Every interface's fields, and where each was declared (to resolve its types)."""

    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    file_of: dict[str, str] = field(default_factory=dict)  # interface -> file
    prefix_of: dict[str, str] = field(default_factory=dict)  # file -> its folder's namespace
    imports_of: dict[str, dict[str, str]] = field(default_factory=dict)  # file -> name -> target
    top_level: set[str] = field(default_factory=set)  # interfaces not nested in a namespace


def _module(folder: PurePosixPath, target: str) -> PurePosixPath | None:
    """The resources-relative module an import names (None outside the resources)."""
    parts: list[str] = list(folder.parts)
    for part in PurePosixPath(target.removesuffix(".js")).parts:
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part != ".":
            parts.append(part)
    return PurePosixPath(*parts)


def _imports(text: str, folder: PurePosixPath) -> dict[str, str]:
    """Local name -> qualified name, for the imports that stay inside the resources."""
    found: dict[str, str] = {}
    for local, target in _IMPORT_ALL.findall(text):
        module = _module(folder, target)
        if module is not None and module.name == "index":
            found[local] = ".".join(module.parent.parts)
    for names, target in _IMPORT_NAMES.findall(text):
        module = _module(folder, target)
        if module is None:
            continue
        for spec in names.split(","):
            original, _, alias = (part.strip() for part in spec.partition(" as "))
            if original:
                found[alias or original] = ".".join([*module.parent.parts, original])
    return found


def _parse_file(text: str, into: _Parsed, file: PurePosixPath) -> None:
    """Interfaces (qualified by folder and namespaces) -> {field: [optional, nullable, type]}."""
    key = str(file)
    prefix = list(file.parent.parts)
    into.prefix_of[key] = ".".join(prefix)
    into.imports_of[key] = _imports(text, file.parent)
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
            qualified = ".".join([*prefix, *(n for _, n in scopes)])
            into.fields.setdefault(qualified, {})[name] = [
                optional == "?",
                "null" in parts,
                " | ".join(p for p in parts if p != "null"),
            ]
            pending = None
        while scopes and depth < depth_of[-1]:
            kind_name = scopes.pop()
            depth_of.pop()
            if kind_name[0] == "interface":
                qualified = ".".join([*prefix, *(n for _, n in scopes), kind_name[1]])
                into.fields.setdefault(qualified, {})
                into.file_of[qualified] = key
                if not scopes:
                    into.top_level.add(qualified)


def _lookup(parsed: _Parsed, interface: str, ref: str) -> str | None:
    """The interface ``ref`` names where ``interface`` uses it (None: not an interface)."""
    file = parsed.file_of[interface]
    prefix = parsed.prefix_of[file]
    scope = interface.split(".")
    floor = len(prefix.split(".")) if prefix else 0  # down to the file's own top level
    for cut in range(len(scope), floor - 1, -1):
        candidate = ".".join([*scope[:cut], ref])
        if parsed.file_of.get(candidate) == file:
            return candidate
    head, _, rest = ref.partition(".")
    imported = parsed.imports_of[file].get(head)
    if imported is None:
        return None
    candidate = ".".join(p for p in (imported, rest) if p)
    return candidate if candidate in parsed.fields else None


def _resolve(parsed: _Parsed) -> dict[str, Any]:
    """Replace each field's type by the interface it names (resolved in its scope), or None."""
    resolved: dict[str, Any] = {"interfaces": {}, "objects": {}}
    for name, fields in parsed.fields.items():
        out = {}
        for field_name, (optional, nullable, kind) in fields.items():
            found = _REF.match(kind)
            ref = _lookup(parsed, name, found.group(1)) if found else None
            out[field_name] = {"optional": optional, "nullable": nullable, "ref": ref}
            if field_name == "object" and name in parsed.top_level:
                literal = kind.strip("'")
                if re.fullmatch(r"[a-z_.]+", literal):
                    resolved["objects"].setdefault(literal, name)
        resolved["interfaces"][name] = out
    return resolved


# The objects the stand-in renders; the file keeps only what they reach.
OBJECTS = (
    "billing.meter", "billing.meter_event", "billing.meter_event_summary",
    "billing_portal.configuration", "billing_portal.session", "checkout.session", "coupon",
    "customer", "discount",
    "entitlements.active_entitlement", "entitlements.active_entitlement_summary",
    "entitlements.feature", "event", "invoice", "invoice_payment", "line_item",
    "payment_intent", "payment_method", "plan", "price", "product", "product_feature",
    "promotion_code", "setup_intent", "subscription", "subscription_item", "subscription_schedule",
    "test_helpers.test_clock",
)  # fmt: skip


def generate(resources: Path) -> dict[str, Any]:
    parsed = _Parsed()
    # Top-level files first: where two declare the same object, the top-level one is Stripe's.
    paths = sorted(resources.rglob("*.d.ts"), key=lambda p: (len(p.parts), p.as_posix()))
    for path in paths:
        _parse_file(path.read_text(), parsed, PurePosixPath(path.relative_to(resources).as_posix()))
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

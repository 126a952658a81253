"""Checks Terraform blocks against the provider schema extract (infra/schema/provider-schema.json).

For every resource and data block: its type exists; every argument and nested block (dynamic
ones included) is one the provider knows at that place; required arguments and blocks are
present; a block the provider allows once appears once; an argument whose value is an object (the
stripe provider's nested attributes, ``features = { ... }``) holds only known keys and its
required ones, wherever it is written as a literal. Every reference ``TYPE.NAME.ATTR`` (and
``TYPE.NAME[...].BLOCK[0].ATTR``) names a declared resource and an attribute it exports (never a
write-only argument, which Terraform does not keep).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# Arguments and blocks Terraform itself gives every resource and data source.
META_ARGUMENTS = {"count", "for_each", "depends_on", "provider"}
META_BLOCKS = {"lifecycle", "provisioner", "connection"}
MARKERS = {"__is_block__", "__comments__", "__inline_comments__"}

REFERENCE = re.compile(
    r"(?<![\w.])(data\.)?((?:google|archive|stripe)_[a-z0-9_]+|archive_file)\.([a-z0-9_]+)"
    r"(?:\[[^\]]*\])?\.([a-z0-9_]+)(?:\[[^\]]*\]\.([a-z0-9_]+))?"
)


def squash(name: str) -> str:
    return name.replace("_", "")


def is_block(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and v.get("__is_block__") for v in value)
    )


def check_body(
    where: str, body: dict[str, Any], schema: dict[str, Any], top: bool
) -> Iterator[str]:
    attributes: dict[str, str] = schema["attributes"]
    blocks: dict[str, Any] = schema["blocks"]
    seen_blocks: set[str] = set()
    for key, value in body.items():
        if key in MARKERS:
            continue
        if key == "dynamic" and isinstance(value, list):
            for entry in value:
                for label, spec in entry.items():
                    if label in MARKERS:
                        continue
                    name = label.strip('"')
                    seen_blocks.add(name)
                    if name not in blocks:
                        yield f"{where}: dynamic block {name!r} is not a block here"
                        continue
                    for content in spec.get("content", []):
                        yield from check_body(f"{where}.{name}", content, blocks[name], False)
            continue
        if is_block(value):
            if top and key in META_BLOCKS:
                continue
            if key not in blocks:
                yield f"{where}: {key!r} is not a block here (known: {', '.join(blocks) or 'none'})"
                continue
            seen_blocks.add(key)
            if blocks[key]["max_one"] and len(value) > 1:
                yield f"{where}: block {key!r} may appear once"
            for item in value:
                yield from check_body(f"{where}.{key}", item, blocks[key], False)
            continue
        if top and key in META_ARGUMENTS:
            continue
        if key not in attributes:
            hint = " (it is a block)" if key in blocks else ""
            yield f"{where}: {key!r} is not an argument here{hint}"
            continue
        nested = schema.get("objects", {}).get(key)
        if nested is not None:
            yield from check_object(f"{where}.{key}", value, nested)
    for name, requirement in attributes.items():
        if requirement == "required" and name not in body:
            yield f"{where}: required argument {name!r} is missing"
    for name, spec in blocks.items():
        if spec["required"] and name not in seen_blocks:
            yield f"{where}: required block {name!r} is missing"


def check_object(where: str, value: Any, schema: dict[str, Any]) -> Iterator[str]:
    """A nested attribute's value, where it is a literal object (or a literal list of them)."""
    if isinstance(value, list) and schema["many"]:
        for item in value:
            yield from check_object(where, item, {**schema, "many": False})
        return
    if not isinstance(value, dict):
        return  # an expression: only Terraform with the provider can check it
    for key, inner in value.items():
        if key in MARKERS:
            continue
        name = key.strip('"')
        if name not in schema["attributes"]:
            yield f"{where}: {name!r} is not an attribute of this object"
            continue
        if name in schema.get("objects", {}):
            yield from check_object(f"{where}.{name}", inner, schema["objects"][name])
    for name, requirement in schema["attributes"].items():
        if requirement == "required" and name not in {k.strip('"') for k in value}:
            yield f"{where}: required attribute {name!r} is missing"


def declared(documents: dict[str, dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    """(kind, type) -> names declared, over every file."""
    found: dict[tuple[str, str], set[str]] = {}
    for doc in documents.values():
        for kind in ("resource", "data"):
            for entry in doc.get(kind, []):
                for rtype, named in entry.items():
                    names = {n.strip('"') for n in named if n not in MARKERS}
                    found.setdefault((kind, rtype.strip('"')), set()).update(names)
    return found


# Terraform's own resource types: no provider, so Terraform itself validates and runs them in the
# tests that evaluate those files (terraform_data: tests/infra/test_state_identity.py).
BUILT_IN = frozenset({"terraform_data"})


def check_documents(
    documents: dict[str, dict[str, Any]], texts: dict[str, str], schema: dict[str, Any]
) -> list[str]:
    """Every problem found in the parsed files (``documents``) and their ``texts``."""
    problems: list[str] = []
    for path, doc in documents.items():
        for kind in ("resource", "data"):
            for entry in doc.get(kind, []):
                for rtype_quoted, named in entry.items():
                    rtype = rtype_quoted.strip('"')
                    if kind == "resource" and rtype in BUILT_IN:
                        continue
                    if rtype not in schema[kind]:
                        problems.append(
                            f"{path}: {kind} type {rtype} is not in the schema extract (run `make infra-schema`)"
                        )
                        continue
                    for name_quoted, body in named.items():
                        if name_quoted in MARKERS:
                            continue
                        where = f"{path}: {kind} {rtype}.{name_quoted.strip(chr(34))}"
                        problems += check_body(where, body, schema[kind][rtype], True)
    names = declared(documents)
    for path, text in texts.items():
        for match in REFERENCE.finditer(text):
            data, rtype, name, attr, nested = match.groups()
            kind = "data" if data else "resource"
            if (kind, rtype) not in names or name not in names[(kind, rtype)]:
                problems.append(f"{path}: reference to undeclared {kind} {rtype}.{name}")
                continue
            spec = schema[kind].get(rtype)
            if spec is None:
                continue
            exports = {squash(e) for e in spec["exports"]}
            if squash(attr) not in exports:
                problems.append(f"{path}: {rtype} exports no attribute {attr!r}")
            elif nested and attr in spec["blocks"]:
                inner = {squash(e) for e in spec["blocks"][attr].get("exports", [])}
                if inner and squash(nested) not in inner:
                    problems.append(f"{path}: {rtype}.{attr} exports no attribute {nested!r}")
    return problems


def coverage(documents: dict[str, dict[str, Any]]) -> tuple[int, int]:
    """(resource and data types, argument and block names) the check went through."""
    types: set[str] = set()
    checked = 0

    def count(body: dict[str, Any]) -> int:
        total = 0
        for key, value in body.items():
            if key in MARKERS:
                continue
            total += 1
            if is_block(value):
                for item in value:
                    total += count(item)
        return total

    for doc in documents.values():
        for kind in ("resource", "data"):
            for entry in doc.get(kind, []):
                for rtype, named in entry.items():
                    types.add(f"{kind}.{rtype.strip(chr(34))}")
                    for name, body in named.items():
                        if name not in MARKERS:
                            checked += count(body)
    return len(types), checked


if __name__ == "__main__":
    import sys

    from tests.support.infra import INFRA, load_tf, tf_files

    parsed = {str(path.relative_to(INFRA)): load_tf(path) for path in tf_files()}
    texts = "".join(path.read_text() for path in tf_files())
    types, names = coverage(parsed)
    sys.stdout.write(
        f"schema check covers {types} resource and data source types, {names} arguments and "
        f"blocks, {len(REFERENCE.findall(texts))} attribute references\n"
    )

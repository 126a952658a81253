"""Extract the schema of the ``stripe_*`` resources infra/ uses from the stripe provider's source.

The stripe provider cannot be downloaded here, so ``terraform validate`` cannot run on it. Its
published source carries, for every resource, the reference page that ``tfplugindocs``
generates from the provider's own schema (``docs/resources/<name>.md``: required, optional and
read-only arguments, nested blocks and nested attributes, write-only and sensitive markers).
This reads those pages, for the resource types ``infra/*.tf`` declares, into the same shape as
``provider-schema.json`` (the google extract), plus two things that provider does not have:

- ``objects``: arguments whose value is an object or a list of objects (plugin-framework
  "nested attributes", written ``features = { ... }``), with the schema of that object;
- ``write_only``: arguments Terraform never stores in state (Terraform >= 1.11).

Run by ``make infra-schema-stripe`` (``scripts/stripe-provider-schema`` fetches the pinned tag).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import hcl2

INFRA = Path(__file__).resolve().parents[1]
ITEM = re.compile(r"^- `([a-z0-9_]+)` \(([^)]*)\)(.*)$")
NESTED_LINK = re.compile(
    r"\(see \[below for nested schema\]\(#nested(block|att)--([a-z0-9_-]+)\)\)"
)
NESTED_HEADING = re.compile(r"^### Nested Schema for `([a-z0-9_.]+)`$")
SECTIONS = {
    "### Required": "required",
    "Required:": "required",
    "### Optional": "optional",
    "Optional:": "optional",
    "### Read-Only": "read_only",
    "Read-Only:": "read_only",
}


def parse_page(text: str) -> dict[str, list[dict[str, Any]]]:
    """Section path ('' for the resource, 'a.b' for nested) -> its items, in page order."""
    sections: dict[str, list[dict[str, Any]]] = {}
    current = ""  # the resource itself, until the first nested schema
    sections[current] = []
    kind = "optional"
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "## Schema")
    for line in lines[start + 1 :]:
        stripped = line.strip()
        heading = NESTED_HEADING.match(stripped)
        if heading:
            current = heading.group(1)
            sections.setdefault(current, [])
            continue
        if stripped in SECTIONS:
            kind = SECTIONS[stripped]
            continue
        item = ITEM.match(stripped)
        if item:
            name, type_text, rest = item.groups()
            link = NESTED_LINK.search(rest)
            sections[current].append(
                {
                    "name": name,
                    "kind": kind,
                    "type": type_text.split(",")[0].strip(),
                    "write_only": "Write-only" in type_text,
                    "sensitive": "Sensitive" in type_text,
                    "nested": link.group(1) if link else None,
                }
            )
    return sections


def build(path: str, sections: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    attributes: dict[str, str] = {}
    blocks: dict[str, Any] = {}
    objects: dict[str, Any] = {}
    write_only: list[str] = []
    exports: list[str] = []
    for item in sections.get(path, []):
        name = item["name"]
        child = f"{path}.{name}" if path else name
        if item["kind"] == "read_only":
            exports.append(name)
            continue
        required = item["kind"] == "required"
        if item["write_only"]:
            write_only.append(name)
        else:
            exports.append(name)
        if item["nested"] == "block":
            blocks[name] = {
                "required": required,
                # tfplugindocs prints "Block List" without its size limits: take the lenient side.
                "max_one": "Max: 1" in item["type"],
                **build(child, sections),
            }
            continue
        attributes[name] = "required" if required else "optional"
        if item["nested"] == "att":
            objects[name] = {"many": item["type"] != "Attributes", **build(child, sections)}
    return {
        "attributes": dict(sorted(attributes.items())),
        "blocks": dict(sorted(blocks.items())),
        "objects": dict(sorted(objects.items())),
        "write_only": sorted(write_only),
        "exports": sorted(exports),
    }


def used_types(infra: Path) -> set[str]:
    used: set[str] = set()
    for path in sorted(infra.rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        for entry in hcl2.loads(path.read_text()).get("resource", []):
            used.update(name.strip('"') for name in entry if name.strip('"').startswith("stripe_"))
    return used


def page(git_dir: Path, ref: str, rtype: str) -> str:
    done = subprocess.run(  # noqa: S603 - git with our own arguments
        ["git", "--git-dir", str(git_dir), "show", f"{ref}:docs/resources/{rtype[7:]}.md"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(
            f"{rtype}: no docs/resources/{rtype[7:]}.md at {ref}: {done.stderr.strip()}"
        )
    return done.stdout


def extract(git_dir: Path, ref: str, infra: Path) -> dict[str, Any]:
    commit = subprocess.run(  # noqa: S603
        ["git", "--git-dir", str(git_dir), "rev-parse", f"{ref}^{{commit}}"],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    resources = {
        rtype: build("", parse_page(page(git_dir, ref, rtype))) for rtype in used_types(infra)
    }
    return {
        "//": "Generated by `make infra-schema-stripe` (infra/schema/stripe_extract.py); "
        "do not edit.",
        "sources": [f"stripe/terraform-provider-stripe {ref} ({commit}) docs/resources/*.md"],
        "resource": dict(sorted(resources.items())),
        "data": {},
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "git_dir", type=Path, help="a clone of stripe/terraform-provider-stripe (its .git)"
    )
    parser.add_argument("ref", help="the tag versions.tf pins, e.g. v0.3.0")
    parser.add_argument("--infra", type=Path, default=INFRA)
    args = parser.parse_args(argv)
    sys.stdout.write(json.dumps(extract(args.git_dir, args.ref, args.infra), indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])

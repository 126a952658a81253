"""Extract the provider schema of the resource types infra/ uses, from cdktf's ``.jsii`` manifests.

The google provider cannot be downloaded here, so ``terraform validate`` cannot run. The cdktf
prebuilt provider packages on npm (``@cdktf/provider-google`` is generated from provider 6.50)
carry every resource's arguments and blocks in their ``.jsii`` manifest: this keeps, for each
resource and data source type that ``infra/*.tf`` uses, its argument names (required or not),
its nested blocks (required or not, at most one or many) and the attributes it exports, so
``tests/infra/test_provider_schema.py`` can check every block of the Terraform offline.

Run by ``make infra-schema`` (``scripts/provider-schema`` fetches the packages with npm).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import hcl2

INFRA = Path(__file__).resolve().parents[1]
LINK = re.compile(r"/docs/(resources|data-sources)/([a-z0-9_]+)#([a-z0-9_]+)")
REPRESENTS = re.compile(r"/docs/(resources|data-sources)/[a-z0-9_]+ ([a-z0-9_]+)\}")
META = "cdktf.TerraformMetaArguments"

Types = dict[str, dict[str, Any]]


def snake(camel: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", camel).lower()


def struct_of(type_ref: dict[str, Any], types: Types) -> tuple[str, bool] | None:
    """(struct fqn, is a list) when a property's type is a nested block, else None."""
    if "fqn" in type_ref and types.get(type_ref["fqn"], {}).get("datatype"):
        return type_ref["fqn"], False
    if "collection" in type_ref and type_ref["collection"]["kind"] == "array":
        inner = struct_of(type_ref["collection"]["elementtype"], types)
        return (inner[0], True) if inner else None
    if "union" in type_ref:
        for member in type_ref["union"]["types"]:
            inner = struct_of(member, types)
            if inner:
                return inner
    return None


def argument_name(prop: dict[str, Any]) -> str:
    match = LINK.search(prop.get("docs", {}).get("remarks", ""))
    return match.group(3) if match else snake(prop["name"])


def block_schema(fqn: str, types: Types) -> dict[str, Any]:
    attributes: dict[str, str] = {}
    blocks: dict[str, Any] = {}
    for prop in types[fqn].get("properties", []):
        name = argument_name(prop)
        required = not prop.get("optional", False)
        nested = struct_of(prop["type"], types)
        if nested is None:
            attributes[name] = "required" if required else "optional"
        else:
            inner_fqn, many = nested
            blocks[name] = {
                "required": required,
                "max_one": not many,
                **block_schema(inner_fqn, types),
            }
            reference = inner_fqn + "OutputReference"
            if reference in types:
                blocks[name]["exports"] = exported(reference, types)
    return {"attributes": dict(sorted(attributes.items())), "blocks": dict(sorted(blocks.items()))}


def exported(class_fqn: str, types: Types) -> list[str]:
    """Attributes a resource or block exposes for reference (computed ones included).

    Their names are converted from camelCase, so digits may be split differently than in the
    provider (``output_base64_sha256`` for ``output_base64sha256``): compare without underscores.
    """
    names = {
        snake(prop["name"])
        for prop in types[class_fqn].get("properties", [])
        if not prop.get("static")
        and not prop["name"].endswith("Input")
        and prop["name"]
        not in ("fqn", "creationStack", "internalValue", "terraformAttribute", "terraformResource")
    }
    return sorted(names)


def index(jsii: dict[str, Any]) -> dict[tuple[str, str], tuple[str, str]]:
    """(resource|data, type name) -> (class fqn, config fqn) for every type in one package."""
    types: Types = jsii["types"]
    found = {}
    for fqn, spec in types.items():
        if spec.get("kind") != "class":
            continue
        match = REPRESENTS.search(spec.get("docs", {}).get("summary", ""))
        config = types.get(fqn + "Config")
        if match and config and META in (config.get("interfaces") or []):
            kind = "resource" if match.group(1) == "resources" else "data"
            found[(kind, match.group(2))] = (fqn, fqn + "Config")
    return found


def used_types(infra: Path) -> set[tuple[str, str]]:
    used: set[tuple[str, str]] = set()
    for path in sorted(infra.rglob("*.tf")):
        doc = hcl2.loads(path.read_text())
        for kind in ("resource", "data"):
            for entry in doc.get(kind, []):
                # stripe_* types come from the stripe provider's own extract (stripe_extract.py).
                used.update(
                    (kind, name.strip('"'))
                    for name in entry
                    if not name.strip('"').startswith("stripe_")
                )
    return used


def extract(packages: list[Path], infra: Path) -> dict[str, Any]:
    wanted = used_types(infra)
    out: dict[str, Any] = {"resource": {}, "data": {}}
    sources = []
    for path in packages:
        jsii = json.loads(path.read_text())
        types: Types = jsii["types"]
        provider = jsii.get("metadata", {}).get("cdktf", {}).get("provider", {})
        if not provider:
            package_json = json.loads((path.parent / "package.json").read_text())
            provider = package_json.get("cdktf", {}).get("provider", {})
        sources.append(
            f"{jsii['name']}@{jsii['version']} ({provider.get('name')} {provider.get('version')})"
        )
        for (kind, name), (class_fqn, config_fqn) in index(jsii).items():
            if (kind, name) in wanted:
                schema = block_schema(config_fqn, types)
                schema["exports"] = exported(class_fqn, types)
                out[kind][name] = schema
    missing = sorted(f"{kind} {name}" for kind, name in wanted if name not in out[kind])
    if missing:
        raise SystemExit(f"not in the given packages: {', '.join(missing)}")
    header = {
        "//": "Generated by `make infra-schema` (infra/schema/extract.py); do not edit.",
        "sources": sorted(sources),
    }
    return header | {kind: dict(sorted(out[kind].items())) for kind in ("resource", "data")}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("jsii", nargs="+", type=Path, help="paths to .jsii manifests")
    parser.add_argument("--infra", type=Path, default=INFRA)
    args = parser.parse_args(argv)
    sys.stdout.write(json.dumps(extract(args.jsii, args.infra), indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])

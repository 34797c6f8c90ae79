"""The event catalogue (docs/events.md), rendered from the registry so it cannot drift.

`python -m common_core.catalogue` prints it; `--check PATH` exits 1 if PATH is stale.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from common_core.events import REGISTRY
from common_core.events.registry import EventRegistry, EventSpec

Schema = dict[str, Any]

REGENERATE_COMMAND = "python -m common_core.catalogue > docs/events.md"

_INTRO = """\
# Event catalogue

Generated from `common_core.events.REGISTRY` by `python -m common_core.catalogue`;
do not edit by hand (regenerate with `{command}`).

Every message is an envelope (`event_id`, `event_type`, `event_timestamp`, `source_service`,
`correlation_id`, `schema_version`, `data`, `metadata`) whose `data` is the payload below.
Topics are named `huleedu.<domain>.<event>.v<N>`, one topic per event type; the Kafka key is
the payload field named under *Key*.
"""


def render_catalogue(registry: EventRegistry) -> str:
    """Markdown: an index, one section per event, then the types the payloads share."""
    specs = list(registry)
    refs, schema = models_json_schema(
        [(spec.data_model, "validation") for spec in specs], ref_template="#/$defs/{model}"
    )
    defs: dict[str, Schema] = schema.get("$defs", {})
    payload_names = {
        spec.event_type: _ref_name(refs[(spec.data_model, "validation")]) for spec in specs
    }
    anchors = {name: _slug(name) for name in defs}
    anchors.update({payload_names[s.event_type]: _slug(s.event_type) for s in specs})
    shared = sorted(set(defs) - set(payload_names.values()))

    lines = [_INTRO.format(command=REGENERATE_COMMAND)]
    lines += ["| Event type | Topic | Key | Payload |", "|---|---|---|---|"]
    for spec in specs:
        lines.append(
            f"| [`{spec.event_type}`](#{_slug(spec.event_type)}) | `{spec.topic}` "
            f"| {_key(spec)} | `{spec.data_model.__name__}` |"
        )
    lines += ["", "## Events", ""]
    for spec in specs:
        lines += _event_section(spec, defs[payload_names[spec.event_type]], anchors)
    lines += ["## Shared types", ""]
    for name in shared:
        lines += _type_section(name, defs[name], anchors)
    return "\n".join(lines).rstrip("\n") + "\n"


def check_catalogue(path: Path, registry: EventRegistry) -> str | None:
    """None if `path` holds the current catalogue, else what is wrong with it."""
    if not path.is_file():
        return f"{path} does not exist; generate it with: {REGENERATE_COMMAND}"
    if path.read_text(encoding="utf-8") != render_catalogue(registry):
        return f"{path} is stale; regenerate it with: {REGENERATE_COMMAND}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m common_core.catalogue",
        description="Print the event catalogue, or check that a file holds the current one.",
    )
    parser.add_argument(
        "--check", type=Path, metavar="PATH", help="exit 1 if PATH is not up to date"
    )
    args = parser.parse_args(argv)
    if args.check is not None:
        problem = check_catalogue(args.check, REGISTRY)
        if problem is not None:
            print(problem, file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(render_catalogue(REGISTRY))
    return 0


def _event_section(spec: EventSpec, schema: Schema, anchors: dict[str, str]) -> list[str]:
    model: type[BaseModel] = spec.data_model
    lines = [
        f"### `{spec.event_type}`",
        "",
        spec.description,
        "",
        f"- Topic: `{spec.topic}`",
        f"- Key: {_key(spec)}",
        f"- Payload: `{model.__name__}` (`{model.__module__}`)",
        "",
    ]
    # The docstring's first paragraph is the spec's description, already shown above.
    details = _paragraphs(schema.get("description", ""))[2:]
    return lines + details + _fields_table(schema, anchors)


def _type_section(name: str, schema: Schema, anchors: dict[str, str]) -> list[str]:
    lines = [f"### `{name}`", "", *_paragraphs(schema.get("description", ""))]
    if "enum" in schema:
        return [*lines, "Values: " + _values(schema["enum"]) + ".", ""]
    return lines + _fields_table(schema, anchors)


def _fields_table(schema: Schema, anchors: dict[str, str]) -> list[str]:
    required = set(schema.get("required", ()))
    lines = [
        "| Field | Type | Required | Constraints | Description |",
        "|---|---|---|---|---|",
    ]
    for name, prop in schema.get("properties", {}).items():
        if name in required:
            needed = "yes"
        elif "default" in prop:
            needed = f"no (default `{json.dumps(prop['default'], separators=(',', ':'))}`)"
        else:
            needed = "no"
        cells = [
            f"`{name}`",
            _type(prop, anchors),
            needed,
            "; ".join(_constraints(prop)),
            _one_line(prop.get("description", "")),
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return [*lines, ""]


def _type(schema: Schema | bool, anchors: dict[str, str]) -> str:
    if isinstance(schema, bool):
        return "any JSON value"
    if "$ref" in schema:
        name = _ref_name(schema)
        return f"[`{name}`](#{anchors[name]})"
    if "anyOf" in schema:
        branches: list[Schema] = schema["anyOf"]
        if _is_decimal(branches):
            return "decimal (JSON string)"
        return " or ".join(_type(branch, anchors) for branch in branches)
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return "one of " + _values(schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}), anchors)}"
    if kind == "object" and schema.get("additionalProperties", False) is not False:
        key = _type(schema.get("propertyNames", {"type": "string"}), anchors)
        return f"map of {key} to {_type(schema['additionalProperties'], anchors)}"
    formats = {"uuid": "UUID", "date-time": "datetime (with offset)"}
    if kind == "string" and schema.get("format") in formats:
        return formats[schema["format"]]
    return str(kind) if kind else "any JSON value"


def _constraints(schema: Schema, prefix: str = "") -> list[str]:
    found: list[str] = []
    bounds = {
        "minimum": "≥ {}",
        "exclusiveMinimum": "> {}",
        "maximum": "≤ {}",
        "exclusiveMaximum": "< {}",
        "minLength": "length ≥ {}",
        "maxLength": "length ≤ {}",
        "minItems": "items ≥ {}",
        "maxItems": "items ≤ {}",
        "pattern": "pattern `{}`",
    }
    for keyword, template in bounds.items():
        if keyword in schema:
            value = schema[keyword]
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            found.append(prefix + template.format(value))
    for branch in schema.get("anyOf", ()):
        found += _constraints(branch, prefix)
    if isinstance(schema.get("items"), dict):
        found += _constraints(schema["items"], "each item ")
    if isinstance(schema.get("additionalProperties"), dict):
        found += _constraints(schema["additionalProperties"], "each value ")
    return found


def _is_decimal(branches: list[Schema]) -> bool:
    """pydantic's validation schema for `Decimal`: a number or a numeric string."""
    return sorted(str(b.get("type")) for b in branches) == ["number", "string"]


def _key(spec: EventSpec) -> str:
    return f"`{spec.key_field}`" if spec.key_field else "none"


def _ref_name(schema: Schema) -> str:
    return str(schema["$ref"]).rsplit("/", 1)[-1]


def _values(values: Iterable[Any]) -> str:
    return ", ".join(f"`{value}`" for value in values)


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lowercase, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def _paragraphs(text: str) -> list[str]:
    """A docstring's paragraphs, each on one line and followed by a blank line."""
    lines: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        if paragraph.strip():
            lines += [_one_line(paragraph), ""]
    return lines


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


if __name__ == "__main__":
    raise SystemExit(main())

"""Generate typed pydantic models from the ``.avsc`` files: ``python -m schemas.codegen``.

The output (``services/common/messages.py``) is checked in so editors and mypy see real types; a
test regenerates it and fails if it differs, so the schema files stay the single source of truth.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from schemas import NAMESPACE, schema_files

OUTPUT = Path(__file__).parent.parent / "services" / "common" / "messages.py"

_PRIMITIVES = {
    "string": "str",
    "int": "int",
    "long": "int",
    "float": "float",
    "double": "float",
    "boolean": "bool",
    "bytes": "bytes",
    "null": "None",
}


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


class _Generator:
    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.done: set[str] = set()

    def annotation(self, avro: Any) -> str:
        if isinstance(avro, str):
            return _PRIMITIVES.get(avro) or _short(avro)
        if isinstance(avro, list):
            # null last, as the house lint wants (``str | None``)
            ordered = sorted(avro, key=lambda branch: branch == "null")
            return " | ".join(self.annotation(branch) for branch in ordered)
        kind = avro["type"]
        if kind == "record":
            self.record(avro)
            return str(avro["name"])
        if kind == "enum":
            self.enum(avro)
            return str(avro["name"])
        if kind == "array":
            return f"list[{self.annotation(avro['items'])}]"
        if kind == "map":
            return f"dict[str, {self.annotation(avro['values'])}]"
        if avro.get("logicalType") == "timestamp-millis":
            return "datetime"
        return self.annotation(kind)

    def enum(self, avro: dict[str, Any]) -> None:
        name = avro["name"]
        if name in self.done:
            return
        self.done.add(name)
        symbols = ", ".join(json.dumps(s) for s in avro["symbols"])
        self.blocks.append(f"{name} = Literal[{symbols}]\n")

    def record(self, avro: dict[str, Any]) -> None:
        name = avro["name"]
        if name in self.done:
            return
        self.done.add(name)
        lines = []
        for field in avro["fields"]:
            ann = self.annotation(field["type"])
            default = ""
            if "default" in field:
                value = field["default"]
                default = " = Field(default_factory=dict)" if value == {} else f" = {value!r}"
                default = " = Field(default_factory=list)" if value == [] else default
            lines.append(f"    {field['name']}: {ann}{default}")
        doc = avro.get("doc", f"Avro record {NAMESPACE}.{name}.")
        body = "\n".join(lines)
        self.blocks.append(f"class {name}(AvroRecord):\n    {json.dumps(doc)}\n\n{body}\n")


def generate() -> str:
    gen = _Generator()
    # Dependencies first: a record's field types are emitted when first met.
    schemas = [json.loads(path.read_text()) for path in schema_files()]
    for schema in sorted(schemas, key=lambda s: s["type"] != "enum"):
        gen.annotation(schema)
    header = (
        '"""Typed messages, GENERATED from schemas/*.avsc by `python -m schemas.codegen`. Do not edit."""\n\n'
        "from __future__ import annotations\n\n"
        "from datetime import datetime\n"
        "from typing import Literal\n\n"
        "from pydantic import BaseModel, ConfigDict, Field\n\n\n"
        "class AvroRecord(BaseModel):\n"
        '    """Base of every generated record; ``avro_name()`` names its schema."""\n\n'
        '    model_config = ConfigDict(frozen=True, extra="forbid")\n\n'
        "    @classmethod\n"
        "    def avro_name(cls) -> str:\n"
        "        # A method, not a ClassVar: LangGraph reads class annotations as state channels.\n"
        f'        return "{NAMESPACE}." + cls.__name__\n\n\n'
    )
    return header + "\n\n".join(gen.blocks)


def render() -> str:
    """The generated module, formatted by ruff exactly as the checked-in file is."""
    formatted = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(OUTPUT), "-"],
        input=generate(),
        capture_output=True,
        text=True,
        check=True,
        cwd=OUTPUT.parent.parent.parent,
    )
    return formatted.stdout


def main() -> int:
    OUTPUT.write_text(render())
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

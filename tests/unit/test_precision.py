"""The embedder's precision follows the CPU: bfloat16 where it multiplies bf16 natively, else float32;
an explicit choice always wins."""

from __future__ import annotations

from pathlib import Path

from services.models.precision import BF16_FLAGS, choose, cpu_flags, describe


def test_auto_takes_bfloat16_only_with_native_support() -> None:
    assert choose("auto", frozenset({"avx2", "avx512f", "avx512_bf16"})) == "bfloat16"
    assert choose("auto", frozenset({"avx2", "amx_tile", "amx_bf16"})) == "bfloat16"
    assert choose("auto", frozenset({"avx2", "avx512f"})) == "float32"
    assert choose("auto", frozenset()) == "float32"


def test_an_explicit_precision_wins() -> None:
    assert choose("float32", BF16_FLAGS) == "float32"
    assert choose("bfloat16", frozenset()) == "bfloat16"


def test_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx512_bf16 amx_bf16\n\nprocessor\t: 1\n")
    assert cpu_flags(info) == {"fpu", "sse", "avx512_bf16", "amx_bf16"}
    assert cpu_flags(tmp_path / "absent") == frozenset()
    assert describe("bfloat16", cpu_flags(info)) == "bfloat16 (amx_bf16, avx512_bf16)"
    assert describe("float32", cpu_flags(info)) == "float32"

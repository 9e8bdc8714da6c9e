"""The floating-point precision a sentence model runs at on this machine's CPU.

MiniLM in float32 uses a fraction of a modern server CPU: where the CPU multiplies bfloat16 natively
(AMX tiles or AVX-512 BF16), the same weights in bfloat16 embed several times faster with vectors whose
cosine to the float32 ones is ~0.999 (``bench/ingest --precision``), so an index built with one serves
queries embedded with the other and a precision change needs no reindex. ``auto`` picks bfloat16 there
and float32 elsewhere; the choice is logged and shown by ``ragstream status``.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path
from typing import Any, Literal

Precision = Literal["float32", "bfloat16"]
Requested = Literal["auto", "float32", "bfloat16"]

# CPU flags (as /proc/cpuinfo names them) of native bfloat16 matrix arithmetic.
BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


@functools.cache
def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The first processor's feature flags; empty where /proc/cpuinfo is absent (macOS, Windows).
    Read once per file: `ragstream status` asks on every call and the CPU does not change."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def choose(requested: Requested, flags: frozenset[str] | None = None) -> Precision:
    """``requested`` unless it is ``auto``: then bfloat16 where the CPU has native bf16, else float32."""
    if requested != "auto":
        return requested
    return "bfloat16" if (cpu_flags() if flags is None else flags) & BF16_FLAGS else "float32"


def describe(precision: Precision, flags: frozenset[str] | None = None) -> str:
    """``bfloat16 (avx512_bf16)``: the precision and the CPU feature that makes it fast."""
    native = sorted((cpu_flags() if flags is None else flags) & BF16_FLAGS)
    return f"{precision} ({', '.join(native)})" if precision == "bfloat16" and native else precision


def products_in(precision: Precision) -> contextlib.AbstractContextManager[Any]:
    """The context a CPU forward pass runs in at ``precision``: bfloat16 autocast (matrix products in
    bfloat16; weights, layer norms and pooling stay float32, so a text's vector barely depends on the
    batch it rides in) or nothing. The in-process embedder and the Ray Serve apps share it."""
    if precision == "bfloat16":
        import torch

        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()

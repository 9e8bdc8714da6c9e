"""`ragstream models`: serve and check the model configs of model_serving/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def models_up(
    config: Annotated[Path, typer.Option(help="A serve config YAML.")] = Path(
        "model_serving/configs/cpu.yaml"
    ),
    port: Annotated[int | None, typer.Option(help="HTTP port (default: the config's, 8000).")] = None,
) -> None:
    """Serve the models of CONFIG with Ray Serve on this machine until Ctrl-C. The default CPU profile
    serves MiniLM embeddings at /embed and SmolLM2-135M on vLLM (CPU) at /llm; the first start converts
    SmolLM2 once (~20 s). Point the stack at it:

        RAGSTREAM_MODELS__EMBEDDINGS_URL=http://127.0.0.1:8000/embed
        RAGSTREAM_MODELS__LLM_URL=http://127.0.0.1:8000/llm
        RAGSTREAM_MODELS__RERANK_URL=http://127.0.0.1:8000/rerank  ragstream up
    """
    from model_serving.serve import main as serve_main

    raise typer.Exit(serve_main([str(config), *(["--port", str(port)] if port else [])]))


def models_check(config: Annotated[Path, typer.Argument(help="A serve config YAML.")]) -> None:
    """Validate a model config (schema, resources, dimensions) without starting anything; works
    without a GPU for the GPU profiles."""
    from model_serving.serve import main as serve_main

    raise typer.Exit(serve_main([str(config), "--check"]))

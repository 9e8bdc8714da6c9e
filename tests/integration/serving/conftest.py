"""One private Ray Serve for every model-serving test (this package): the CPU profile
(model_serving/configs/cpu.yaml: embed at /embed, SmolLM2 on vLLM at /llm, the MiniLM reranker at
/rerank) plus, at /ce, the rerank app's cross-encoder backend on a tiny untrained head. Starting Ray,
Serve and vLLM's engine takes ~40-80 s on 2 cores, so it happens once for the package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

pytest.importorskip("ray.serve", reason="needs the serving extra: pip install -e '.[serving,llm]'")
pytest.importorskip("vllm", reason="needs the llm extra: pip install -e '.[llm]'")

from model_serving.serve import CONFIG_DIR
from tests.serving import Served, ray_serving

CE_PREFIX = "/ce"


def build_tiny_cross_encoder(path: Path) -> Path:
    """MiniLM's encoder under a seeded, untrained one-logit classification head, saved with its
    tokenizer: a CrossEncoder directory that loads offline. Its scores carry no meaning."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from services.models.embedder import bundled_minilm_path

    source = str(bundled_minilm_path())
    torch.manual_seed(1234)
    model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=1, local_files_only=True)
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(source, local_files_only=True).save_pretrained(path)
    return path


def profile_with_cross_encoder(path: Path, cross_encoder: Path) -> Path:
    """cpu.yaml plus an app at /ce: the rerank code with the cross-encoder backend."""
    raw = yaml.safe_load((CONFIG_DIR / "cpu.yaml").read_text())
    [rerank] = [app for app in raw["applications"] if app["name"] == "rerank"]
    raw["applications"].append(
        {
            "name": "rerank-ce",
            "route_prefix": CE_PREFIX,
            "import_path": rerank["import_path"],
            "deployments": [
                {
                    "name": "Reranker",
                    "num_replicas": 1,
                    "ray_actor_options": {"num_cpus": 0, "num_gpus": 0},  # the profile holds both CPUs
                    "user_config": {
                        "model": str(cross_encoder),
                        "served_model_name": "tiny-ce",
                        "backend": "cross-encoder",
                        "max_seq_length": 128,
                    },
                }
            ],
        }
    )
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="package")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_cross_encoder(tmp_path_factory.mktemp("rerank") / "tiny-ce")


@pytest.fixture(scope="package")
def cpu_models(tiny_cross_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    config = profile_with_cross_encoder(
        tmp_path_factory.mktemp("profile") / "cpu-ce.yaml", tiny_cross_encoder
    )
    with ray_serving(config, timeout_s=300) as serving:
        yield serving

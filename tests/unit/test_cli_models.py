"""`ragstream models check` validates model configs without Ray running or a GPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli.main import app

CONFIGS = Path(__file__).resolve().parents[2] / "model_serving" / "configs"


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_shipped_configs_pass(name: str) -> None:
    """Every shipped profile is valid: embedders state their vector size, LLMs their context, and
    tensor parallelism matches the GPUs the placement group reserves."""
    result = CliRunner().invoke(app, ["models", "check", str(CONFIGS / name)])
    assert result.exit_code == 0, result.output
    summaries = json.loads(result.output)
    assert summaries
    for summary in summaries:
        details = summary["details"]
        if summary["kind"] == "embed":
            assert details["dim"] in (384, 1024)
        if summary["kind"] == "llm":
            assert details["max_model_len"] >= 2048
            if summary["device"] == "cuda":
                assert details["gpus"] == details["tensor_parallel_size"]
        assert (summary["device"] == "cuda") == (details.get("gpus", summary["num_gpus"]) > 0)


def test_tensor_parallel_needs_as_many_gpu_bundles(tmp_path: Path) -> None:
    """Llama-3-70B at tensor parallelism 4 with only three GPU bundles is refused before deploying."""
    text = (CONFIGS / "llm-llama3-70b-awq-gpu.yaml").read_text().replace("          - {GPU: 1}\n", "", 1)
    broken = tmp_path / "tp.yaml"
    broken.write_text(text)
    result = CliRunner().invoke(app, ["models", "check", str(broken)])
    assert result.exit_code == 1
    assert "tensor_parallel_size 4 but the placement group bundles reserve 3 GPUs" in result.output


def test_gpu_model_without_a_gpu_request_is_refused(tmp_path: Path) -> None:
    """A cuda device with no num_gpus reserved is an inconsistent config and fails the check."""
    text = (CONFIGS / "embed-bge-m3-gpu.yaml").read_text().replace("num_gpus: 0.5", "num_gpus: 0")
    broken = tmp_path / "broken.yaml"
    broken.write_text(text)
    result = CliRunner().invoke(app, ["models", "check", str(broken)])
    assert result.exit_code == 1

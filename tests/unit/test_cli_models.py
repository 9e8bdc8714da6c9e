"""`ragstream models check` validates model configs without Ray running or a GPU."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli.main import app

CONFIGS = Path(__file__).resolve().parents[2] / "model_serving" / "configs"


@pytest.mark.parametrize("name", ["embed-minilm-cpu.yaml", "embed-bge-m3-gpu.yaml"])
def test_shipped_configs_pass(name: str) -> None:
    """Each shipped profile is valid and states its embedding size."""
    result = CliRunner().invoke(app, ["models", "check", str(CONFIGS / name)])
    assert result.exit_code == 0, result.output
    [summary] = json.loads(result.output)
    assert summary["dim"] in (384, 1024)


def test_gpu_model_without_a_gpu_request_is_refused(tmp_path: Path) -> None:
    """A cuda device with no num_gpus reserved is an inconsistent config and fails the check."""
    text = (CONFIGS / "embed-bge-m3-gpu.yaml").read_text().replace("num_gpus: 0.5", "num_gpus: 0")
    broken = tmp_path / "broken.yaml"
    broken.write_text(text)
    result = CliRunner().invoke(app, ["models", "check", str(broken)])
    assert result.exit_code == 1

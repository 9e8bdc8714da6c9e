"""The cluster's single Serve config is the merge of the per-model configs: the chart's files equal
what `python -m model_serving.merge` makes of them, pass the same check, and a merge that would put
two applications on one route is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from model_serving.merge import CHART_PROFILES, merge, merge_files
from model_serving.serve import CONFIG_DIR, ConfigError, check_config

FILES = Path(__file__).resolve().parents[2] / "helm" / "ragstream" / "files"


@pytest.mark.parametrize("name", sorted(CHART_PROFILES))
def test_chart_serve_configs_are_generated_from_the_model_configs(name: str) -> None:
    """Regenerate with `python -m model_serving.merge ...` when a model config changes."""
    expected = merge_files([CONFIG_DIR / part for part in CHART_PROFILES[name]])
    assert (FILES / name).read_text() == expected


@pytest.mark.parametrize("name", sorted(CHART_PROFILES))
def test_chart_serve_configs_pass_the_config_check(name: str) -> None:
    """embed, rerank and llm on their own prefixes, each deployment checked as in its own file."""
    summaries = check_config(FILES / name)
    assert {(s.app, s.route_prefix) for s in summaries} == {
        ("embed", "/embed"),
        ("rerank", "/rerank"),
        ("llm", "/llm"),
    }


def test_two_apps_on_one_route_are_refused() -> None:
    """The GPU configs used to put embed and rerank both on `/`: merging such configs fails."""
    one = {"applications": [{"name": "embed", "route_prefix": "/"}]}
    two = {"applications": [{"name": "rerank", "route_prefix": "/"}]}
    with pytest.raises(ConfigError, match="route_prefix /"):
        merge([one, two])


def test_every_gpu_config_has_its_own_route() -> None:
    """Each per-model GPU config routes its app under the prefix clients are told to use."""
    for path in sorted(CONFIG_DIR.glob("*-gpu.yaml")):
        [app] = yaml.safe_load(path.read_text())["applications"]
        assert app["route_prefix"] == f"/{app['name']}", path.name

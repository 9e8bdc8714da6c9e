"""Each process is a static member of its consumer groups, under an id that survives its restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.settings import KafkaSettings, Settings
from services.common.stage import StageContext


def test_the_id_is_stable_per_home_and_differs_between_homes(tmp_path: Path) -> None:
    first = Settings(home=tmp_path / "a", kafka=KafkaSettings())
    again = Settings(home=tmp_path / "a" / ".." / "a", kafka=KafkaSettings())
    other = Settings(home=tmp_path / "b", kafka=KafkaSettings())
    assert first.group_instance() == again.group_instance()  # a restart replaces its former self
    assert first.group_instance() != other.group_instance()


@pytest.mark.parametrize(("configured", "expected"), [("off", None), ("worker-7", "worker-7")])
def test_it_can_be_set_or_turned_off(tmp_path: Path, configured: str, expected: str | None) -> None:
    settings = Settings(home=tmp_path, kafka=KafkaSettings(group_instance=configured))
    assert settings.group_instance() == expected


def test_every_subscriber_joins_as_that_member(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, kafka=KafkaSettings())
    ctx = StageContext(
        None,  # type: ignore[arg-type]  # options only: no broker needed
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        settings.pipeline,
        settings.kafka,
        group_instance=settings.group_instance(),
    )
    assert ctx.subscriber_options("g")["group_instance_id"] == settings.group_instance()
    assert ctx.subscriber_options("g", batch=True)["group_instance_id"] == settings.group_instance()

"""Every Kafka client takes the process's security settings: configured for SASL, a client really
speaks SASL (and the plaintext broker here refuses it); back on plaintext, it connects. A SASL
mechanism without credentials is refused at start-up, not at the first message."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]
from pydantic import SecretStr

from services.common import kafka_conf
from services.common.settings import KafkaSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def plaintext_after() -> Iterator[None]:
    yield
    kafka_conf.use(KafkaSettings())


def test_clients_use_the_configured_security(kafka_bootstrap: str, plaintext_after: None) -> None:
    """SASL_PLAINTEXT/PLAIN against the plaintext broker fails; the default plaintext works."""
    sasl = KafkaSettings(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="u",
        sasl_password=SecretStr("p"),
    )
    kafka_conf.use(sasl)
    assert kafka_conf.client(kafka_bootstrap)["sasl.mechanism"] == "PLAIN"
    with pytest.raises(KafkaException):
        AdminClient(kafka_conf.client(kafka_bootstrap)).list_topics(timeout=3)
    kafka_conf.use(KafkaSettings())
    assert "sasl.mechanism" not in kafka_conf.client(kafka_bootstrap)
    assert AdminClient(kafka_conf.client(kafka_bootstrap)).list_topics(timeout=10).topics is not None


def test_a_mechanism_without_credentials_is_refused() -> None:
    """SCRAM without a username and password is a configuration error, said at once."""
    with pytest.raises(ValueError, match="SASL_USERNAME"):
        kafka_conf.settings_config(
            KafkaSettings(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512")
        )

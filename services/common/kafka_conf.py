"""How this process's Kafka clients connect: the bootstrap servers plus the security settings every
client must share (TLS, SASL/SCRAM or PLAIN: Amazon MSK with SCRAM, Confluent Cloud, Strimzi with
TLS). Entrypoints call ``use(settings.kafka)`` once (the CLI does, and so does every wiring function
that receives settings); every producer, consumer and admin client is built from ``client(...)``,
and FastStream brokers take ``security()`` as their librdkafka config. Unset, nothing is added:
plaintext, as Tansu and the compose Kafka speak.
"""

from __future__ import annotations

from typing import Any

from services.common.settings import KafkaSettings

_security: dict[str, str] = {}


def settings_config(kafka: KafkaSettings) -> dict[str, str]:
    """The librdkafka properties the settings ask for (empty for plaintext)."""
    config: dict[str, str] = {}
    if kafka.security_protocol != "PLAINTEXT":
        config["security.protocol"] = kafka.security_protocol
    if kafka.sasl_mechanism:
        if not kafka.sasl_username or kafka.sasl_password is None:
            raise ValueError("RAGSTREAM_KAFKA__SASL_MECHANISM needs __SASL_USERNAME and __SASL_PASSWORD")
        config["sasl.mechanism"] = kafka.sasl_mechanism
        config["sasl.username"] = kafka.sasl_username
        config["sasl.password"] = kafka.sasl_password.get_secret_value()
    if kafka.ssl_ca_location:
        config["ssl.ca.location"] = kafka.ssl_ca_location
    return config


def use(kafka: KafkaSettings) -> None:
    """Make ``kafka``'s security settings those of every client this process builds from now on."""
    _security.clear()
    _security.update(settings_config(kafka))


def security() -> dict[str, str]:
    return dict(_security)


def client(bootstrap: str, **extra: Any) -> dict[str, Any]:
    """A confluent-kafka client config: the bootstrap servers, the process's security, ``extra``."""
    return {"bootstrap.servers": bootstrap, **_security, **extra}


def delivery(idempotent: bool) -> dict[str, Any]:
    """How a producer delivers: acks from every replica and, retries or not, each partition's order
    kept. Idempotent, the broker drops a retried batch it already has; without idempotence, one request
    in flight per connection keeps the order and a retry may duplicate a record (the chat path's
    consumers drop repeats by request and seq: KafkaSettings.chat_idempotence)."""
    if idempotent:
        return {"enable.idempotence": True, "acks": "all"}
    return {"enable.idempotence": False, "acks": "all", "max.in.flight.requests.per.connection": 1}

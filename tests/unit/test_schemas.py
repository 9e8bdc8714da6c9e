"""The Avro schemas are the single source of message shapes: codecs round-trip them, the generated
models match them, and every published version stays compatible both ways."""

from __future__ import annotations

import io

import pytest
from fastavro import schemaless_reader, schemaless_writer
from fastavro.utils import generate_many

import schemas
from schemas import codegen
from services.common import messages
from services.common.codec import MAGIC, CodecError, ConfluentCodec, SingleObjectCodec
from services.common.messages import AvroRecord

RECORD_NAMES = schemas.record_names()


def model_for(full_name: str) -> type[AvroRecord]:
    return getattr(messages, full_name.rsplit(".", 1)[1])


def samples(full_name: str, count: int = 5) -> list[AvroRecord]:
    """Random valid records; passed once through Avro so floats are already float32-exact."""
    model, schema = model_for(full_name), schemas.load(full_name)
    out = []
    for raw in generate_many(schema, count):
        buf = io.BytesIO()
        schemaless_writer(buf, schema, raw)
        buf.seek(0)
        out.append(model.model_validate(schemaless_reader(buf, schema, schema)))
    return out


def test_every_topic_value_has_a_schema_file() -> None:
    """Each record the registry routes is described by exactly one .avsc file."""
    import topics

    assert {spec.value.avro_name() for spec in topics.ALL} <= set(RECORD_NAMES)


def test_generated_models_are_up_to_date() -> None:
    """services/common/messages.py is exactly what `python -m schemas.codegen` writes from the .avsc files."""
    assert codegen.OUTPUT.read_text() == codegen.render()


@pytest.mark.parametrize("name", RECORD_NAMES)
def test_single_object_codec_round_trips(name: str) -> None:
    """Registry-free encoding: C3 01 + fingerprint + body, decoded back to an equal record."""
    codec = SingleObjectCodec()
    for record in samples(name):
        data = codec.encode(record, "t")
        assert data[:2] == MAGIC
        assert codec.decode(data, type(record), "t") == record


@pytest.mark.parametrize("name", RECORD_NAMES)
def test_confluent_codec_round_trips_through_mock_registry(name: str) -> None:
    """Confluent wire format (magic 0 + schema id) through the library's mock:// Schema Registry."""
    codec = ConfluentCodec(f"mock://test-{name}")
    for record in samples(name):
        data = codec.encode(record, "topic-a")
        assert data[0] == 0
        assert codec.decode(data, type(record), "topic-a") == record


@pytest.mark.parametrize("name", RECORD_NAMES)
def test_every_record_has_a_frozen_first_version(name: str) -> None:
    """schemas/history keeps v1 of every record, so later edits are checked against what was published."""
    assert schemas.history(name), f"add schemas/history/{name}.v1.avsc (python -c 'import schemas; ...')"


@pytest.mark.parametrize("name", RECORD_NAMES)
def test_each_version_reads_the_other_both_ways(name: str) -> None:
    """Backward and forward compatible: old writer → current reader, current writer → old reader."""
    current = schemas.load(name)
    for old in schemas.history(name):
        for writer, reader in ((old, current), (current, old)):
            for raw in generate_many(writer, 5):
                buf = io.BytesIO()
                schemaless_writer(buf, writer, raw)
                buf.seek(0)
                schemaless_reader(buf, writer, reader)  # raises on incompatibility


def test_old_version_bytes_decode_with_current_model() -> None:
    """Bytes written with a historical schema are found by fingerprint and read into today's model."""
    from services.common.codec import schema_fingerprint

    name = "ragstream.ChunkCreated"
    [old] = schemas.history(name)[:1]
    [raw] = generate_many(old, 1)
    buf = io.BytesIO()
    buf.write(MAGIC + schema_fingerprint(old))
    schemaless_writer(buf, old, raw)
    decoded = SingleObjectCodec().decode(buf.getvalue(), messages.ChunkCreated, "t")
    assert decoded.chunk_id == raw["chunk_id"]


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "not Avro"),
        (b'{"json": true}', "not Avro"),
        (MAGIC + b"\x00" * 8 + b"\x01", "unknown writer schema"),
    ],
)
def test_garbage_is_a_codec_error(data: bytes, fragment: str) -> None:
    """Bytes that are not one of our records raise CodecError (poison), never something generic."""
    with pytest.raises(CodecError, match=fragment):
        SingleObjectCodec().decode(data, messages.DocumentSubmitted, "t")


def test_truncated_record_is_a_codec_error() -> None:
    """A record cut short fails to decode with CodecError."""
    codec = SingleObjectCodec()
    [record] = samples("ragstream.DocumentSubmitted", 1)
    data = codec.encode(record, "t")
    with pytest.raises(CodecError):
        codec.decode(data[: len(data) // 2], messages.DocumentSubmitted, "t")


def test_wrong_record_type_is_a_codec_error() -> None:
    """Decoding one record's bytes as an unrelated record fails clearly."""
    codec = SingleObjectCodec()
    [record] = samples("ragstream.DocumentIndexed", 1)
    with pytest.raises(CodecError):
        codec.decode(codec.encode(record, "t"), messages.ChunkEmbedded, "t")

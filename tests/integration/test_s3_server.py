"""The embedded broker's object server speaks the S3 that Tansu and boto3 speak: conditional writes
(the compare-and-swap Tansu keeps its watermarks and offsets with), ranges, listings, copies; it keeps
everything through a kill -9, refuses a second server on its directory, and the durable embedded
broker keeps topics and committed offsets across a restart."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from services.bootstrap.adapters import embedded_broker
from services.bootstrap.gateway import gateway_config
from services.common import kafka_conf
from services.common.children import DataDirectoryBusy
from services.common.settings import KafkaSettings, Settings
from services.common.tansu import ObjectServer

pytestmark = pytest.mark.integration
BUCKET = ObjectServer.BUCKET


def client(server: ObjectServer) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ObjectServer]:
    started = ObjectServer(tmp_path / "broker").start()
    yield started
    started.stop()


def status(exc: ClientError) -> int:
    return int(exc.response["ResponseMetadata"]["HTTPStatusCode"])


def test_conditional_writes_are_a_compare_and_swap(server: ObjectServer) -> None:
    """If-None-Match: * creates once; If-Match updates only the version it names."""
    s3 = client(server)
    first = s3.put_object(Bucket=BUCKET, Key="c/watermark.json", Body=b"1", IfNoneMatch="*")
    with pytest.raises(ClientError) as exists:
        s3.put_object(Bucket=BUCKET, Key="c/watermark.json", Body=b"0", IfNoneMatch="*")
    assert status(exists.value) == 412
    second = s3.put_object(Bucket=BUCKET, Key="c/watermark.json", Body=b"2", IfMatch=first["ETag"])
    with pytest.raises(ClientError) as stale:
        s3.put_object(Bucket=BUCKET, Key="c/watermark.json", Body=b"3", IfMatch=first["ETag"])
    assert status(stale.value) == 412
    got = s3.get_object(Bucket=BUCKET, Key="c/watermark.json")
    assert got["Body"].read() == b"2"
    assert got["ETag"] == second["ETag"]


def test_reads_ranges_listings_copies_and_deletes(server: ObjectServer) -> None:
    """Ranges, a paged listing with a delimiter, a copy and a multi-object delete behave as on S3."""
    s3 = client(server)
    for name in ("a/1.batch", "a/2.batch", "a/3.batch", "b/x.json", "top"):
        s3.put_object(Bucket=BUCKET, Key=name, Body=name.encode())
    assert s3.get_object(Bucket=BUCKET, Key="a/2.batch", Range="bytes=2-4")["Body"].read() == b"2.b"
    assert s3.head_object(Bucket=BUCKET, Key="top")["ContentLength"] == 3

    page = s3.list_objects_v2(Bucket=BUCKET, Prefix="a/", MaxKeys=2)
    assert [o["Key"] for o in page["Contents"]] == ["a/1.batch", "a/2.batch"]
    assert page["IsTruncated"]
    rest = s3.list_objects_v2(Bucket=BUCKET, Prefix="a/", ContinuationToken=page["NextContinuationToken"])
    assert [o["Key"] for o in rest["Contents"]] == ["a/3.batch"]
    tree = s3.list_objects_v2(Bucket=BUCKET, Delimiter="/")
    assert [p["Prefix"] for p in tree["CommonPrefixes"]] == ["a/", "b/"]
    assert [o["Key"] for o in tree["Contents"]] == ["top"]

    s3.copy_object(Bucket=BUCKET, Key="b/copy", CopySource={"Bucket": BUCKET, "Key": "top"})
    assert s3.get_object(Bucket=BUCKET, Key="b/copy")["Body"].read() == b"top"
    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "a/1.batch"}, {"Key": "b/copy"}]})
    s3.delete_object(Bucket=BUCKET, Key="top")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == ["a/2.batch", "a/3.batch", "b/x.json"]
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=BUCKET, Key="top")
    assert status(missing.value) == 404


def test_objects_survive_a_kill9_and_a_second_server_is_refused(tmp_path: Path) -> None:
    """Acknowledged writes are on disk: kill -9, restart, same bytes and ETag; two servers never share."""
    first = ObjectServer(tmp_path / "broker").start()
    put = client(first).put_object(Bucket=BUCKET, Key="k/v", Body=b"kept")
    with pytest.raises(DataDirectoryBusy):
        ObjectServer(tmp_path / "broker").start(lock_wait_s=1)  # waits for the lock, then names the holder
    assert first._proc is not None
    os.kill(first._proc.pid, signal.SIGKILL)
    first._proc.wait()
    again = ObjectServer(tmp_path / "broker").start()
    try:
        got = client(again).get_object(Bucket=BUCKET, Key="k/v")
        assert (got["Body"].read(), got["ETag"]) == (b"kept", put["ETag"])
    finally:
        again.stop()


def test_the_durable_embedded_broker_keeps_topics_and_offsets_across_restarts(tmp_path: Path) -> None:
    """Messages and a group's committed offset survive stopping and starting the embedded broker."""
    settings = Settings(home=tmp_path / "home", kafka=KafkaSettings(storage="durable"))

    async def first() -> None:
        async with embedded_broker(settings) as bootstrap:
            admin = AdminClient({"bootstrap.servers": bootstrap})
            admin.create_topics([NewTopic("kept", 1, 1)])["kept"].result(30)
            producer = Producer({"bootstrap.servers": bootstrap})
            for i in range(50):
                producer.produce("kept", str(i).encode())
            assert producer.flush(30) == 0
            consumer = group_consumer(bootstrap)
            consumer.commit(offsets=[TopicPartition("kept", 0, 20)], asynchronous=False)
            consumer.close()

    async def second() -> tuple[int, list[bytes]]:
        async with embedded_broker(settings) as bootstrap:
            consumer = group_consumer(bootstrap)
            committed = consumer.committed([TopicPartition("kept", 0)], timeout=30)[0].offset
            consumer.assign([TopicPartition("kept", 0, 0)])
            values: list[bytes] = []
            deadline = time.monotonic() + 30
            while len(values) < 50 and time.monotonic() < deadline:
                values += [m.value() for m in consumer.consume(50, 1.0) if not m.error()]
            consumer.close()
            return committed, values

    asyncio.run(first())
    committed, values = asyncio.run(second())
    assert committed == 20
    assert values == [str(i).encode() for i in range(50)]


def group_consumer(bootstrap: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "kept-group",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
            "auto.offset.reset": "earliest",
        }
    )


def test_listings_order_writes_strictly_in_time(server: ObjectServer) -> None:
    """Tansu answers "latest offset" with the batch of the latest LastModified: writes in one second
    (here, one millisecond) still list in the order they were made."""
    s3 = client(server)
    for offset in range(20):
        s3.put_object(Bucket=BUCKET, Key=f"p/records/{offset:020}.batch", Body=b"x")
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="p/records/")["Contents"]
    times = [entry["LastModified"] for entry in listed]
    assert len(set(times)) == 20
    assert times == sorted(times)


def test_an_idle_connection_outlives_the_clients_pool(server: ObjectServer) -> None:
    """The server never closes an idle keep-alive connection before its client does: a request sent
    as the server closes fails with a reset, and Tansu does not retry a conditional PUT (uvicorn's 5 s
    default once fenced the stack's producer). A second request 6 s later goes on the same socket."""
    host, port = server.endpoint.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("HEAD", f"/{BUCKET}")
    conn.getresponse().read()
    sock = conn.sock
    time.sleep(6)
    conn.request("HEAD", f"/{BUCKET}")
    assert conn.getresponse().status == 200
    assert conn.sock is sock  # not reconnected: the server kept it open
    conn.close()


def tansu_layout(root: Path, topics: dict[str, list[dict[str, str]]], batches: int, age_s: float) -> None:
    """Tansu's s3 layout for ``topics`` (name -> configs), ``batches`` batches each, ``age_s`` old."""
    cluster = root / BUCKET / "clusters" / "c"
    cluster.mkdir(parents=True)
    meta = {"topics": {n: {"topic": {"name": n, "configs": c}} for n, c in topics.items()}}
    (cluster / "meta.json.obj").write_text(json.dumps(meta))
    for name in topics:
        records = cluster / "topics" / name / "partitions" / "0000000000" / "records"
        records.mkdir(parents=True)
        for offset in range(batches):
            batch = records / f"{offset:020}.batch.obj"
            batch.write_bytes(b"x")
            os.utime(batch, (time.time() - age_s, time.time() - age_s))


def test_retention_deletes_expired_batches_on_tansus_layout(tmp_path: Path) -> None:
    """Two-hour-old batches: the chat topic (1 h) loses all but its newest batch; docs.chunks (kept
    forever) and a topic on the seven-day default keep everything."""
    from services.common.s3_server import ObjectStore
    from services.common.tansu_retention import sweep

    hour = [{"name": "retention.ms", "value": "3600000"}]
    forever = [{"name": "retention.ms", "value": "-1"}, {"name": "retention.bytes", "value": "-1"}]
    tansu_layout(tmp_path, {"chat.requests": hour, "docs.chunks": forever, "docs.parsed": []}, 30, 7200)
    store = ObjectStore(tmp_path, fsync=False)
    bucket = tmp_path / BUCKET

    def remaining(topic: str) -> list[str]:
        return list(store.keys(bucket, f"clusters/c/topics/{topic}/partitions/0000000000/records/"))

    assert len(remaining("chat.requests")) == 30  # the listing is cached: deletions must update it
    assert sweep(store, bucket, limit=10) == 10
    assert sweep(store, bucket) == 19
    assert remaining("chat.requests") == [
        f"clusters/c/topics/chat.requests/partitions/0000000000/records/{29:020}.batch"
    ]
    assert len(remaining("docs.chunks")) == 30
    assert len(remaining("docs.parsed")) == 30
    assert sweep(store, bucket, now_s=time.time() + 8 * 24 * 3600) == 29  # past the seven days
    assert len(remaining("docs.chunks")) == 30


def test_a_consumer_keeps_up_with_a_long_partition_on_the_durable_broker(tmp_path: Path) -> None:
    """Tansu's s3 engine lists a partition on every fetch and answers empty once the fetch's wait
    has passed: with the chat path's old 5 ms wait a consumer stalled for good after ~150 batches.
    With the wait the settings give interactive consumers on this storage, 400 batches read through."""
    settings = Settings(home=tmp_path / "home")

    async def run() -> list[str]:
        async with embedded_broker(settings) as bootstrap:
            wait = settings.kafka.interactive_wait_ms()
            assert wait >= KafkaSettings.DURABLE_MIN_WAIT_MS
            # the chat path produces without broker idempotence here (one object rewritten per
            # idempotent produce queues chat behind ingestion), and its gateway follows the settings
            assert not settings.kafka.chat_idempotence
            assert gateway_config(settings).producer_idempotence is False
            admin = AdminClient({"bootstrap.servers": bootstrap})
            admin.create_topics([NewTopic("replies", 1, 1)])["replies"].result()
            chat = kafka_conf.delivery(settings.kafka.chat_idempotence)
            producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0} | chat)
            consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "g", "fetch.wait.max.ms": wait,
                                 "enable.auto.commit": False})  # fmt: skip
            consumer.assign([TopicPartition("replies", 0, 0)])
            got: list[str] = []
            try:
                for burst in range(100):
                    for i in range(4):
                        producer.produce("replies", value=f"{burst}-{i}".encode())
                        producer.flush()  # one batch per record: the partition grows by 4 batches
                    deadline = time.monotonic() + 10
                    while len(got) < 4 * (burst + 1) and time.monotonic() < deadline:
                        msg = await asyncio.to_thread(consumer.poll, 0.2)
                        if msg is not None and not msg.error():
                            got.append(msg.value().decode())
            finally:
                consumer.close()
            return got

    got = asyncio.run(run())
    assert got == [f"{burst}-{i}" for burst in range(100) for i in range(4)]  # all, in order


def test_a_consumer_keeps_up_after_thousands_of_batches_in_the_hour(tmp_path: Path) -> None:
    """A reply topic fills by thousands of batches an hour under steady chat (five `ragstream eval`
    runs in a quarter of an hour left 1,868). Listing them built each key's path again (30 ms per
    page of 1,000), so past ~1,500 batches a listing outlasted the interactive wait and Tansu answered
    empty: questions took 1-18 s and some timed out. Listings now cost what their text is."""
    settings = Settings(home=tmp_path / "home")
    batches = 3000

    async def run() -> list[str]:
        async with embedded_broker(settings) as bootstrap:
            admin = AdminClient({"bootstrap.servers": bootstrap})
            admin.create_topics([NewTopic("replies", 1, 1)])["replies"].result()
            chat = kafka_conf.delivery(settings.kafka.chat_idempotence)
            # one record per batch, requests pipelined: the partition grows by `batches` objects
            producer = Producer(
                {"bootstrap.servers": bootstrap, "linger.ms": 0, "batch.num.messages": 1} | chat
            )
            for _ in range(batches):
                producer.produce("replies", value=b"old")
                producer.poll(0)
            assert producer.flush(60) == 0
            consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "g",
                                 "fetch.wait.max.ms": settings.kafka.interactive_wait_ms(),
                                 "enable.auto.commit": False})  # fmt: skip
            consumer.assign([TopicPartition("replies", 0, batches)])
            got: list[str] = []
            try:
                for i in range(4):
                    producer.produce("replies", value=f"new-{i}".encode())
                    producer.flush()
                deadline = time.monotonic() + 15
                while len(got) < 4 and time.monotonic() < deadline:
                    msg = await asyncio.to_thread(consumer.poll, 0.2)
                    if msg is not None and not msg.error():
                        got.append(msg.value().decode())
            finally:
                consumer.close()
            return got

    assert asyncio.run(run()) == [f"new-{i}" for i in range(4)]

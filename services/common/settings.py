"""One settings tree for every service. Only entrypoints call ``Settings()`` (which reads the
environment, prefix ``RAGSTREAM_``, nested with ``__``); everything else receives the object."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_home() -> Path:
    return Path.cwd() / ".ragstream"


class KafkaSettings(BaseModel):
    # None = embedded: start Tansu on a free loopback port. A URL = an external Kafka, nothing else changes.
    bootstrap: str | None = None
    # The embedded broker's storage: "durable" keeps topics, offsets and dead letters on disk under
    # RAGSTREAM_HOME/broker (Tansu's s3:// engine on a loopback object server, services/common/s3_server.py);
    # "memory" forgets everything on stop (throwaway runs and tests). Ignored with an external Kafka.
    storage: Literal["durable", "memory"] = "durable"
    schema_registry_url: str | None = None
    partitions: int = Field(default=3, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    # Tansu joins a new group after ~session.timeout.ms/2; short timeouts keep dev start-up quick.
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 1000
    max_poll_records: int = 256
    # How long a fetch may wait for data. Tansu does not wake a waiting fetch when data arrives, so
    # this is a latency floor per hop there (Apache Kafka returns as soon as data is in): short for
    # the interactive chat path, longer for ingestion where it only costs throughput-neutral idle polls.
    fetch_max_wait_ms: int = 100
    # Ingestion producers group records for up to this long: fewer, larger produce requests (on the
    # durable embedded broker every request is an object write), at a cost of milliseconds per hop.
    linger_ms: int = Field(default=5, ge=0)
    chat_fetch_max_wait_ms: int = 5
    # How long a /metrics scrape waits for the consumer lag read from the broker; past that it serves
    # the lag's last values and counts the failure (services/api/lag.py). Under Prometheus' 10 s default.
    lag_read_timeout_s: float = Field(default=5.0, gt=0)
    # /metrics takes no token: within this long of the last lag read, a scrape serves its values
    # rather than read the broker again (a loop on /metrics would keep the broker busy).
    lag_read_interval_s: float = Field(default=5.0, ge=0)
    # The chat path's producers (gateway, agent nodes) with broker-side idempotence. Off on the durable
    # embedded broker (set when it starts): Tansu 0.6 keeps every idempotent producer's sequences in
    # one cluster-wide object rewritten on each produce, so a question queued behind every batch of a
    # large ingest (bench/pressure). Off, order is kept with one request in flight and a retried
    # reply event is dropped by the gateway (seq), a retried step handled twice gives the same events.
    chat_idempotence: bool = True
    # Messages each agent node (plan, retrieve, tool, respond) handles at once; offsets are still
    # committed in order, so a crash loses nothing (services/agent/workers.py: InFlight).
    agent_concurrency: int = Field(default=16, ge=1)
    client_id: str = "ragstream"
    # This process's id in its consumer groups (static membership, KIP-345): on Apache Kafka a restarted
    # process takes its partitions back at once, without a rebalance; on Tansu, a member that left while
    # its group was forming otherwise blocked the group for good (docs/architecture.md). Tansu 0.6 pauses
    # 3 s in a static member's JoinGroup and again in its SyncGroup, so a first join or a rejoin takes
    # about 6 s there (3 s dynamic): the first document after `ragstream up` waits for it. Empty: the
    # host name and the home directory (stable across restarts, distinct per pod); "off": dynamic
    # membership. Two processes that run the same role on one host from one home must each set their own.
    group_instance: str = ""
    topic_prefix: str = ""  # keeps parallel stacks (and tests) apart on one broker
    # How clients authenticate (services/common/kafka_conf.py): e.g. SASL_SSL + SCRAM-SHA-512 for MSK
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: str | None = None  # a CA bundle; unset = the system's

    # Tansu 0.6's durable (s3) engine lists a partition's batches on every fetch and answers empty
    # once the fetch's own wait has passed (docs/architecture.md): a 5 ms wait starved the chat path
    # after ~150 batches. The embedded broker raises the chat path's wait to this when it starts
    # on durable storage (services/bootstrap/adapters.py: embedded_broker).
    DURABLE_MIN_WAIT_MS: ClassVar[int] = 50

    def interactive_wait_ms(self) -> int:
        """The fetch wait of an interactive consumer (the agent nodes, the gateway's replies)."""
        return self.chat_fetch_max_wait_ms


class StoreSettings(BaseModel):
    qdrant_url: str | None = None  # None = embedded qdrant-edge on disk
    qdrant_api_key: SecretStr | None = None
    neo4j_uri: str | None = None  # None = embedded FalkorDB child process
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr = SecretStr("neo4j")
    falkordb_url: str | None = None  # redis://host:port of an already running FalkorDB
    collection_alias: str = "chunks"
    # Postgres for the index ledger (and, later, chat memory); None = SQLite in the data directory
    postgres_dsn: SecretStr | None = None
    # The claim check's blob store: None = $RAGSTREAM_HOME/data/blobs; s3://bucket[/prefix] = S3 (or an
    # S3-protocol server at s3_endpoint_url), credentials from the standard AWS chain (env, role, ...)
    blob_url: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None


class ModelSettings(BaseModel):
    embeddings_url: str | None = None  # OpenAI-compatible /v1/embeddings; None = in-process
    embeddings_model: str = "all-MiniLM-L6-v2"
    embeddings_dim: int = 384  # only read for a remote server; in-process reads it off the model
    embeddings_api_key: SecretStr | None = None
    embed_batch_size: int = Field(default=64, ge=1)
    # The in-process embedder's precision: "auto" = bfloat16 where the CPU multiplies it natively
    # (AMX, AVX-512 BF16: ~2x the texts/s here, cosine to float32 0.998), else float32
    # (services/models/precision.py)
    embedder_precision: Literal["auto", "float32", "bfloat16"] = "auto"
    # Questions on a second copy of the in-process embedder, in a thread of their own, so they never
    # wait for an ingestion slice in progress (about 90 MB; services/models/scheduler.py)
    embedder_question_lane: bool = True
    chunk_max_tokens: int = Field(default=256, ge=32)
    chunk_overlap_tokens: int = Field(default=32, ge=0)
    # Reranking fused retrieval candidates: a /v1/rerank server (model_serving/rerank.py, vLLM, or
    # anything in the Jina/Cohere shape), else the in-process bi-encoder when rerank_local, else none.
    rerank_url: str | None = None
    rerank_model: str = "all-MiniLM-L6-v2"
    rerank_api_key: SecretStr | None = None
    rerank_local: bool = False  # off by default: ~0.65 s per query on 2 CPU cores for 20 candidates
    rerank_candidates: int = Field(default=20, ge=1)  # fused candidates scored; the best top_k kept
    # The LLM: an OpenAI-compatible /v1/chat/completions (model_serving/llm.py on Ray Serve, vLLM, ...).
    # None = no LLM: deterministic planner, extractive answers, rule-based graph extraction.
    llm_url: str | None = None
    llm_model: str = "SmolLM2-135M-Instruct"
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(default=120.0, gt=0)
    llm_max_tokens: int = Field(default=384, ge=16)  # per answer
    llm_extract_graph: bool = True  # extract-graph asks the LLM (cached per chunk hash and model)
    llm_extract_max_tokens: int = Field(default=512, ge=64)  # a longer answer is cut: rules instead
    llm_extract_concurrency: int = Field(default=4, ge=1)  # chunks asked at once per worker
    llm_hyde: bool = False  # retrieve with a hypothetical answer passage added to the query


class ToolSettings(BaseModel):
    # A SearxNG JSON API for the agent's web search tool; None = no web search (nothing leaves the site)
    web_search_url: str | None = None
    web_search_results: int = Field(default=5, ge=1, le=20)


class GatewaySettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8765  # 0 = any free port
    # None = embedded: a random secret generated once into $RAGSTREAM_HOME/gateway.secret (0600)
    jwt_secret: SecretStr | None = None
    redis_url: str = "redis://127.0.0.1:6379/0"
    # A full pool waits (BlockingConnectionPool); it never skips the rate limit. An ask costs a few
    # sub-millisecond commands, so 32 carry a 500-chat burst; 256 opened 256 connections in it.
    redis_max_connections: int = 32
    rate_capacity: int = 20  # asks per user at once...
    rate_per_s: float = 60.0  # ...refilled over this many seconds
    # A request whose agent sends nothing for this long ends with an error event (code agent_timeout).
    request_timeout_s: float = Field(default=30.0, gt=0)
    max_sockets_per_user: int = Field(default=32, ge=1)  # per gateway instance; one more: close 4429
    # Where clients reach the gateways (behind their proxy or Ingress): the HTTP API tells clients
    # (`ragstream ask --url`). None = the gateway in the same process, if any.
    public_url: str | None = None
    # Names this instance's reply topic chat.replies.<id>: keep it stable across restarts (a StatefulSet
    # pod name) so a restart reuses its topic. None = host name and port, or random when port is 0.
    instance_id: str | None = None


class PipelineSettings(BaseModel):
    max_document_bytes: int = 512 * 1024 * 1024
    # What `publish FOLDER` does with a symlink: follow it only to a file inside the folder (within),
    # skip every link (never), or follow file links anywhere (always). See services/intake.py.
    follow_symlinks: Literal["within", "never", "always"] = "within"
    retry_attempts: int = Field(default=4, ge=1)
    retry_base_delay_s: float = 0.2
    retry_max_delay_s: float = 5.0
    # A model server that stays unavailable pauses the stage's partitions this long, doubling up to max
    backpressure_base_delay_s: float = Field(default=1.0, gt=0)
    backpressure_max_delay_s: float = Field(default=30.0, gt=0)
    # Parsing runs in worker processes (services/parse/isolation.py): a document that takes longer is
    # dead-lettered as `timeout`, one that needs more memory as `too_large`; the other documents flow.
    parse_workers: int = Field(default=2, ge=1)  # documents parsed at once, each in its own process
    parse_timeout_s: float = Field(default=120.0, gt=0)
    parse_memory_mb: int = Field(default=2048, ge=256)
    # Chunking is bounded the same way (text shaped to be slow to split held the stage for everyone);
    # the chunk consumer's poll interval is this plus a minute, so the group never takes it away.
    chunk_timeout_s: float = Field(default=600.0, gt=0)
    # An upload whose body stops arriving for this long is answered 408 and its temporary file removed
    # (a client trickling bytes held a file of up to max_document_bytes, and a server slot, forever).
    upload_idle_timeout_s: float = Field(default=60.0, gt=0)
    chunk_memory_mb: int = Field(default=2048, ge=256)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAGSTREAM_", env_nested_delimiter="__", extra="ignore")

    home: Path = Field(default_factory=default_home)
    tenant: str = "default"
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    admin_host: str = "127.0.0.1"
    admin_port: int = 0  # 0 = any free port; the chosen one is written to the run file
    # A stop (Ctrl-C, SIGTERM) that has not finished after this long ends the process at once
    # (services/cli/stack.py): uncommitted work is redelivered, so nothing is lost by it.
    stop_grace_s: float = Field(default=30.0, gt=0)
    cache_answers: bool = True  # the semantic answer cache in Redis (gateway.redis_url)
    # Names this deployment: what it caches in a shared Redis is its own. None = generated once into
    # $RAGSTREAM_HOME/deployment.id; processes of one deployment that share no home must set it.
    deployment_id: str | None = None
    # The index generation the embed, extract-graph and index workers build ("" = the first one, then
    # v2, v3, ...): a cluster reindexes by starting workers of the next label (services/catchup.py).
    generation: str = Field(default="", pattern=r"^(v\d+)?$")
    kafka: KafkaSettings = KafkaSettings()
    stores: StoreSettings = StoreSettings()
    models: ModelSettings = ModelSettings()
    tools: ToolSettings = ToolSettings()
    pipeline: PipelineSettings = PipelineSettings()
    gateway: GatewaySettings = GatewaySettings()

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    def group_instance(self) -> str | None:
        """This process's static member id in its consumer groups, or None for dynamic membership."""
        configured = self.kafka.group_instance
        if configured == "off":
            return None
        if configured:
            return configured
        home = hashlib.sha256(str(self.home.resolve()).encode()).hexdigest()[:10]
        return f"{socket.gethostname()}-{home}"

    @property
    def broker_dir(self) -> Path:
        """The durable embedded broker's topics, offsets and dead letters."""
        return self.data_dir / "broker"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def run_file(self) -> Path:
        """Written by ``ragstream up``: where the running stack listens, read by the other commands."""
        return self.home / "run.json"

    def redis(self) -> Any:
        """A Redis client for the gateway, rate limits and the answer cache. The pool blocks when full:
        redis-py's default pool raises past 100 connections, which made the rate limiter fail open."""
        from redis.asyncio import BlockingConnectionPool, Redis

        pool = BlockingConnectionPool.from_url(
            self.gateway.redis_url, max_connections=self.gateway.redis_max_connections, timeout=10
        )
        return Redis(connection_pool=pool)

    def gateway_secret(self) -> str:
        """The JWT secret: configured, or generated once for the embedded stack and kept in home."""
        if self.gateway.jwt_secret is not None:
            return self.gateway.jwt_secret.get_secret_value()
        return self._generated_once("gateway.secret", 32)

    def deployment(self) -> str:
        """This deployment's name: configured, or generated once and kept in home."""
        return self.deployment_id or self._generated_once("deployment.id", 9)

    def _generated_once(self, name: str, nbytes: int) -> str:
        """A random value kept in ``home/name`` (0600, written atomically so racing processes agree)."""
        path = self.home / name
        if not path.exists():
            import os
            import secrets

            self.home.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{name}.{os.getpid()}")
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
                out.write(secrets.token_urlsafe(nbytes))
            try:
                os.link(tmp, path)  # the first writer wins; a later one reads its value
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        return path.read_text().strip()

    def masked(self) -> dict[str, Any]:
        """A dump safe for logs: secrets stay masked."""
        return self.model_dump(mode="json")

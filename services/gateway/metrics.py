"""The gateway's Prometheus metrics, labelled by gateway id (several gateways may share a process:
tests, the embedded stack's registry). Served at /metrics on the websocket port."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
OPEN_SOCKETS = Gauge("ragstream_gateway_open_sockets", "Authenticated websockets open", ["gateway"])
REQUESTS = Counter(
    "ragstream_gateway_requests_total",
    "Questions published, by how they ended: answered, agent_error, agent_timeout, unavailable",
    ["gateway", "outcome"],
)
RATE_LIMITED = Counter("ragstream_gateway_rate_limited_total", "Asks refused by the rate limit", ["gateway"])
TIME_TO_FIRST_TOKEN = Histogram(
    "ragstream_gateway_time_to_first_token_seconds",
    "From an ask reaching the gateway to its first token arriving from the agent",
    ["gateway"],
    buckets=_LATENCY_BUCKETS,
)
TIME_TO_FINAL = Histogram(
    "ragstream_gateway_time_to_final_seconds",
    "From an ask reaching the gateway to its final answer arriving from the agent",
    ["gateway"],
    buckets=_LATENCY_BUCKETS,
)
FEEDBACK = Counter(
    "ragstream_feedback_total", "Answers rated by their users, by rating (up, down)", ["gateway", "rating"]
)

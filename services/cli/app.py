"""The ``ragstream`` command's root: the Typer apps, consoles, shared options, and where a command
goes: the local stack (found through its run file) or a remote deployment's HTTP API (``--url`` and
``--token``, or RAGSTREAM_URL and RAGSTREAM_TOKEN). Commands live in one module per group."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console

from services.common import kafka_conf
from services.common.logs import configure
from services.common.settings import Settings
from services.stores.blobs import LocalBlobStore

app = typer.Typer(
    name="ragstream",
    help=(
        "Event-driven RAG on Kafka.\n\n"
        "Start the embedded stack (broker, every pipeline stage, stores; no Docker, no GPU) with "
        '`ragstream up`, feed it with `ragstream publish docs/ --wait`, then `ragstream search "..."`.\n\n'
        "Against a remote deployment, give its API and a token: `--url https://rag.example.com "
        "--token $JWT` (or RAGSTREAM_URL / RAGSTREAM_TOKEN) on publish, delete, search, ask, chat, "
        "status, reindex and dlq.\n\n"
        "Settings come from RAGSTREAM_* environment variables (e.g. RAGSTREAM_KAFKA__BOOTSTRAP to use an "
        "external Kafka, RAGSTREAM_HOME for where data lives; default ./.ragstream)."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
models_app = typer.Typer(help="Model servers (Ray Serve apps in model_serving/).", no_args_is_help=True)
dlq_app = typer.Typer(
    help="Dead letters: what failed, where and why; replay them after a fix.", no_args_is_help=True
)
app.add_typer(dlq_app, name="dlq")
app.add_typer(models_app, name="models")
console = Console(stderr=False)
err = Console(stderr=True)

TenantOpt = Annotated[
    str | None,
    typer.Option(
        "--tenant", "-t", help="Tenant (default: RAGSTREAM_TENANT or 'default'; remote: the token's)."
    ),
]
HomeOpt = Annotated[
    Path | None, typer.Option("--home", help="Data and run directory (default ./.ragstream).")
]
UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url", envvar="RAGSTREAM_URL", help="A remote deployment's HTTP API (default: the local stack)."
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token", envvar="RAGSTREAM_TOKEN", help="Its JWT (`ragstream token` where the secret is)."
    ),
]


def settings_for(home: Path | None) -> Settings:
    settings = Settings()
    if home is not None:
        settings = settings.model_copy(update={"home": home.resolve()})
    configure(settings.log_level, settings.log_format)
    kafka_conf.use(settings.kafka)  # every Kafka client of this command connects the same way
    return settings


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def blobs_for(settings: Settings, info: dict[str, Any]) -> Any:
    """The stack's blob store: S3 when configured, else the directory the running stack uses."""
    if settings.stores.blob_url:
        from services.bootstrap.adapters import blob_store

        return blob_store(settings)
    return LocalBlobStore(Path(info["blob_dir"]))


def run_info(settings: Settings) -> dict[str, Any]:
    """Where the running stack listens (written by `up`), or a clear error if it is not running."""
    if settings.kafka.bootstrap:
        return {
            "bootstrap": settings.kafka.bootstrap,
            "topic_prefix": settings.kafka.topic_prefix,
            "admin_url": None,
            "blob_dir": str(settings.blob_dir),
        }
    try:
        info: dict[str, Any] = json.loads(settings.run_file.read_text())
    except FileNotFoundError:
        raise fail(
            f"the stack is not running (no {settings.run_file}). Start it with `ragstream up`."
        ) from None
    if not pid_alive(int(info.get("pid", 0))):
        raise fail(
            f"the stack that wrote {settings.run_file} is gone (pid {info.get('pid')}). "
            "Start it again with `ragstream up`."
        )
    return info


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Api:
    """The HTTP API of a deployment with the token to call it: a remote one, or the local stack's
    (with an operator token minted from the local secret)."""

    url: str
    token: str
    remote: bool

    def call(self, method: str, path: str, timeout: float = 60, **kwargs: Any) -> Any:
        """The JSON answer; a clear error (and exit 1) for anything but 2xx."""
        try:
            response = httpx.request(
                method,
                self.url.rstrip("/") + path,
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=timeout,
                **kwargs,
            )
        except httpx.HTTPError as exc:
            raise fail(f"cannot reach {self.url}: {exc}") from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise fail(f"{response.status_code} from {path}: {detail}")
        return response.json()


def remote_api(url: str, token: str | None) -> Api:
    """A remote deployment's API; it needs a token."""
    if not token:
        raise fail("a remote deployment needs --token (or RAGSTREAM_TOKEN)")
    return Api(url, token, remote=True)


def api_for(settings: Settings, url: str | None, token: str | None, tenant: str | None) -> Api | None:
    """The remote API when a URL is given, else the local stack's (None if it has none)."""
    if url:
        return remote_api(url, token)
    info = run_info(settings)
    if not info.get("admin_url"):
        return None
    from services.gateway import issue_token

    local = issue_token(settings.gateway_secret(), tenant or settings.tenant, "cli", 600, ops=True)
    return Api(info["admin_url"], local, remote=False)

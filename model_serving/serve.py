"""Run a serve config (``model_serving/configs/*.yaml``) the way ``serve run CONFIG`` does, from
Python or the command line, and check a config's shape without deploying it.

    python -m model_serving.serve model_serving/configs/embed-minilm-cpu.yaml [--host H] [--port P]
    python -m model_serving.serve --check model_serving/configs/embed-bge-m3-gpu.yaml

``start()`` connects to a running Ray cluster when ``address`` is given (or RAY_ADDRESS is set by the
caller), else starts a local one on 127.0.0.1 without the dashboard; it then starts Serve's HTTP proxy
on ``host:port``, submits the config to the Serve controller (the declarative path of ``serve deploy``:
the controller imports each ``import_path`` and applies ``user_config``) and waits until every
application is RUNNING and answers ``/healthz``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).parent / "configs"


class ConfigError(ValueError):
    """A serve config that Serve would accept but that cannot work (or does not say enough)."""


@dataclass(frozen=True)
class DeploymentSummary:
    """What one model deployment of a config serves, and on what; ``details`` holds the app's own
    fields (an embedder's dim and batch size, an LLM's context length and parallelism, ...)."""

    app: str
    route_prefix: str | None
    deployment: str
    kind: str
    model: str
    served_model_name: str
    device: str
    num_cpus: float | None
    num_gpus: float
    min_replicas: int
    max_replicas: int
    details: dict[str, Any] = field(default_factory=dict)


# Each model app module exports DEPLOYMENT_NAME, SETTINGS (a pydantic model with ``model``,
# ``served_model_name`` and ``device``), and ``check_resources(settings, num_cpus, num_gpus)`` returning
# (problems, details). Apps of other modules in a config are left alone.
APP_MODULES = {
    "model_serving.embed": "embed",
    "model_serving.rerank": "rerank",
    "model_serving.llm": "llm",
}


def load_config(path: str | Path) -> Any:
    """The YAML file parsed into Ray Serve's own schema (``ServeDeploySchema``); raises on bad shape."""
    from ray.serve.schema import ServeDeploySchema

    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    return ServeDeploySchema.model_validate(raw)


def _replicas(deployment: Any) -> tuple[int, int]:
    autoscaling = deployment.autoscaling_config
    if hasattr(autoscaling, "model_dump"):
        autoscaling = autoscaling.model_dump(exclude_unset=True)
    if isinstance(autoscaling, dict) and autoscaling:
        low = int(autoscaling.get("min_replicas", 1))
        high = int(autoscaling.get("max_replicas", low))
        if low > high:
            raise ConfigError(f"{deployment.name}: min_replicas {low} > max_replicas {high}")
        return low, high
    count = deployment.num_replicas
    if isinstance(count, int):
        return count, count
    return 1, 1


def check_config(path: str | Path) -> list[DeploymentSummary]:
    """Validate a config without Ray running or a GPU present: Serve's schema, each model
    deployment's settings, deployment names against the code, and resources against the device."""
    from ray.serve import Application

    config = load_config(path)
    problems: list[str] = []
    out: list[DeploymentSummary] = []
    for app in config.applications:
        module_name, _, attr = app.import_path.replace(":", ".").rpartition(".")
        kind = APP_MODULES.get(module_name)
        if kind is None:
            continue
        module = importlib.import_module(module_name)
        target = getattr(module, attr, None)
        if not isinstance(target, Application) and not callable(target):
            problems.append(f"{app.name}: import_path {app.import_path} is neither an app nor a builder")
        names = {d.name for d in app.deployments}
        if names - {module.DEPLOYMENT_NAME}:
            problems.append(f"{app.name}: unknown deployments {sorted(names - {module.DEPLOYMENT_NAME})}")
        for dep in app.deployments:
            where = f"{app.name}/{dep.name}"
            user_config = dep.user_config if isinstance(dep.user_config, dict) else {}
            try:
                settings = module.SETTINGS.model_validate({**(app.args or {}), **user_config})
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
                continue
            options = dep.ray_actor_options
            if hasattr(options, "model_dump"):
                options = options.model_dump(exclude_unset=True)
            options = options if isinstance(options, dict) else {}
            num_gpus = float(options.get("num_gpus") or 0)
            num_cpus = options.get("num_cpus")
            bundles = dep.placement_group_bundles if isinstance(dep.placement_group_bundles, list) else []
            bundle_gpus = sum(float(b.get("GPU", 0)) for b in bundles)
            if settings.device == "cuda" and num_gpus <= 0 and bundle_gpus <= 0:
                problems.append(
                    f"{where}: device cuda but ray_actor_options.num_gpus is {num_gpus}"
                    " and no placement group bundle asks for a GPU"
                )
            if settings.device == "cpu" and num_gpus > 0:
                problems.append(f"{where}: device cpu but it reserves num_gpus {num_gpus}")
            if num_gpus > 1 and not num_gpus.is_integer():
                problems.append(f"{where}: num_gpus {num_gpus} above 1 must be a whole number")
            own, details = module.check_resources(settings, dep)
            problems.extend(f"{where}: {problem}" for problem in own)
            try:
                low, high = _replicas(dep)
            except ConfigError as exc:
                problems.append(str(exc))
                continue
            out.append(
                DeploymentSummary(
                    app=app.name,
                    route_prefix=app.route_prefix,
                    deployment=dep.name,
                    kind=kind,
                    model=settings.model,
                    served_model_name=settings.served_model_name,
                    device=settings.device,
                    num_cpus=None if num_cpus is None else float(num_cpus),
                    num_gpus=num_gpus,
                    min_replicas=low,
                    max_replicas=high,
                    details=details,
                )
            )
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    return out


_state: dict[str, Any] = {}


def _wait_running(app_names: set[str], timeout_s: float) -> None:
    from ray import serve

    deadline = time.monotonic() + timeout_s
    last: dict[str, str] = {}
    while time.monotonic() < deadline:
        apps = serve.status().applications
        last = {name: str(apps[name].status) if name in apps else "MISSING" for name in app_names}
        failed = {
            n: "; ".join(
                [apps[n].message] + [f"{d}: {s.message}" for d, s in apps[n].deployments.items() if s.message]
            )
            for n in app_names
            if n in apps and "DEPLOY_FAILED" in last[n]
        }
        if failed:
            raise RuntimeError(f"serve deploy failed: {failed}")
        if all(status.endswith("RUNNING") for status in last.values()):
            return
        time.sleep(0.2)
    raise TimeoutError(f"applications not RUNNING after {timeout_s}s: {last}")


def _wait_http(url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    error = "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
                error = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as exc:
            error = str(exc)
        time.sleep(0.1)
    raise TimeoutError(f"{url} not healthy after {timeout_s}s: {error}")


def start(
    config_path: str | Path,
    host: str | None = "127.0.0.1",
    port: int | None = None,
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    temp_dir: str | Path | None = None,
    object_store_memory: int | None = 256 * 1024**2,
    timeout_s: float = 180.0,
) -> str:
    """Deploy every application of a serve config and return the HTTP base URL once they serve.

    ``host``/``port`` override the config's ``http_options`` (``None`` keeps the config's). A local Ray
    is started only when none is connected and no ``address`` is given; :func:`stop` shuts down what
    this function started."""
    import ray
    from ray import serve
    from ray.serve.context import _get_global_client

    config = load_config(config_path)
    http = config.http_options.model_dump(exclude_unset=True)
    if host is not None:
        http["host"] = host
    if port is not None:
        http["port"] = port
    http.setdefault("host", "127.0.0.1")
    http.setdefault("port", 8000)
    if not ray.is_initialized():
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        kwargs: dict[str, Any] = {"namespace": "serve", "include_dashboard": False, "log_to_driver": False}
        if address:
            kwargs["address"] = address
        else:
            if temp_dir is None:
                temp_dir = _state["temp_dir"] = tempfile.mkdtemp(prefix="ray-")
            kwargs.update(
                num_cpus=num_cpus,
                _node_ip_address="127.0.0.1",
                _temp_dir=str(temp_dir),
                object_store_memory=object_store_memory,
            )
        ray.init(**kwargs)
        _state["owns_ray"] = True
    serve.start(http_options=http, proxy_location=config.proxy_location)
    client = _get_global_client()
    if client is None:
        raise RuntimeError("Serve did not start: no controller client")
    client.deploy_apps(config)
    _wait_running({app.name for app in config.applications}, timeout_s)
    base = f"http://{'127.0.0.1' if http['host'] in ('0.0.0.0', '::') else http['host']}:{http['port']}"
    for application in config.applications:
        prefix = (application.route_prefix or "/").rstrip("/")
        _wait_http(f"{base}{prefix}/healthz", timeout_s)
    _state["base_url"] = base
    return base


def stop() -> None:
    """Shut down Serve, and Ray too when :func:`start` started it."""
    import ray
    from ray import serve

    if ray.is_initialized():
        serve.shutdown()  # type: ignore[no-untyped-call]
        if _state.pop("owns_ray", False):
            ray.shutdown()
    if "temp_dir" in _state:
        shutil.rmtree(_state["temp_dir"], ignore_errors=True)
    _state.clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m model_serving.serve", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("config", help="a serve config YAML (model_serving/configs/*.yaml)")
    parser.add_argument("--host", default=None, help="bind address (default: the config's)")
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default: the config's)")
    parser.add_argument("--address", default=None, help="an existing Ray cluster (default: start one)")
    parser.add_argument("--check", action="store_true", help="validate the config and print a summary")
    args = parser.parse_args(argv)
    if args.check:
        try:
            summary = check_config(args.config)
        except (ConfigError, ValueError) as exc:
            print(f"invalid: {exc}", file=sys.stderr)
            return 1
        print(json.dumps([asdict(item) for item in summary], indent=2))
        return 0
    base = start(args.config, args.host, args.port, address=args.address)
    print(f"serving {args.config} at {base} (Ctrl-C to stop)", flush=True)
    for application in load_config(args.config).applications:
        prefix = (application.route_prefix or "/").rstrip("/")
        print(f"  {application.name:<8} {base}{prefix}", flush=True)
    stopping = False

    def _interrupt(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        while not stopping:
            time.sleep(0.5)
    finally:
        stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

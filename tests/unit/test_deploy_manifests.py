"""The deployment artifacts (compose, Helm, Karpenter, Prometheus/Grafana) agree with the code: the
stages they run, the settings they set, the consumer groups KEDA watches and the APIs they target."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from services import roles
from services.common.settings import Settings
from services.common.stage import HANDLE_SECONDS, MESSAGES, consumer_group
from services.ops import CONSUMERS
from topics import TopicNames

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
CHART = ROOT / "helm" / "ragstream"
KARPENTER = ROOT / "karpenter"
DEPLOY = ROOT / "deploy"
TERRAFORM = ROOT / "terraform"

ENV_NAME = re.compile(r"\bRAGSTREAM_[A-Z0-9_]*[A-Z0-9]\b")
VALUES_REF = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
WORKER = re.compile(r"^ragstream worker (\S+)$")


def _yaml_docs(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _values() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return data


def _plain_yaml_files() -> Iterator[Path]:
    """Every YAML file that is data, not a Go template (Helm templates are checked separately)."""
    templates = CHART / "templates"
    for base in (ROOT / "helm", KARPENTER, DEPLOY):
        for path in sorted([*base.rglob("*.yaml"), *base.rglob("*.yml")]):
            if templates not in path.parents:
                yield path


def _command(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return shlex.join(command) if isinstance(command, list) else " ".join(shlex.split(command))


def _model_or_none(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _setting_exists(env: str) -> bool:
    """RAGSTREAM_A__B names settings.a.b: walk the pydantic models field by field."""
    config = Settings.model_config
    prefix, delimiter = str(config["env_prefix"]), str(config["env_nested_delimiter"])
    model: type[BaseModel] | None = Settings
    for part in env.removeprefix(prefix).lower().split(delimiter):
        if model is None or part not in model.model_fields:
            return False
        annotation = model.model_fields[part].annotation
        # A leaf (None) has nothing nested below it.
        model = _model_or_none(annotation)
    return True


def _env_names(paths: list[Path]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in paths:
        for name in ENV_NAME.findall(path.read_text()):
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


# ------------------------------------------------------------------------------------------ parsing
@pytest.mark.parametrize("path", list(_plain_yaml_files()), ids=lambda p: str(p.relative_to(ROOT)))
def test_plain_yaml_files_parse(path: Path) -> None:
    """Every non-template YAML file under helm/, karpenter/ and deploy/ is valid YAML."""
    assert _yaml_docs(path), f"{path} holds no document"


def test_compose_and_chart_metadata_parse() -> None:
    """compose.yaml, Chart.yaml and values.yaml parse into the shapes their tools expect."""
    assert isinstance(_compose()["services"], dict)
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "ragstream"
    assert isinstance(_values()["roles"], dict)


def _dashboard_exprs() -> list[str]:
    dashboards = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
    assert dashboards
    return [
        target["expr"]
        for path in dashboards
        for panel in json.loads(path.read_text())["panels"]
        for target in panel.get("targets", [])
    ]


def test_grafana_dashboard_is_json_with_lag_and_app_metrics() -> None:
    """The provisioned dashboard is valid JSON and charts kafka-exporter lag plus the stage metrics."""
    exprs = " ".join(_dashboard_exprs())
    assert "kafka_consumergroup_lag" in exprs
    assert "ragstream_messages_total" in exprs
    assert "ragstream_handle_seconds_bucket" in exprs


def test_dashboard_app_metrics_exist_in_the_code() -> None:
    """Every ragstream_* series the dashboard queries is one the stage runtime or the API exports."""
    from services.api.lag import CONSUMER_LAG, LAG_READ_AT

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    exported = {
        metric.name + suffix
        for collector in (MESSAGES, HANDLE_SECONDS, CONSUMER_LAG, LAG_READ_AT)
        for metric in collector.describe()
        for suffix in suffixes[metric.type]
    }
    used = set(re.findall(r"\bragstream_[a-z_]+", " ".join(_dashboard_exprs())))
    assert used
    assert used <= exported, f"unknown series {sorted(used - exported)}"


# ------------------------------------------------------------------------------------------ compose
def _worker_services() -> dict[str, str]:
    """compose service name → the role it runs (`ragstream worker <role>`)."""
    return {
        name: match.group(1)
        for name, service in _compose()["services"].items()
        if (match := WORKER.match(_command(service)))
    }


def test_compose_runs_every_role_and_two_gateways() -> None:
    """Every role of services/roles.py runs in compose, each service named after its role, the
    gateway twice (gateway-1, gateway-2) with distinct instance ids behind the proxy."""
    runs = _worker_services()
    assert sorted(set(runs.values())) == sorted(roles.names()), runs
    gateways = sorted(name for name, role in runs.items() if role == "gateway")
    assert gateways == ["gateway-1", "gateway-2"]
    assert all(name == role for name, role in runs.items() if role != "gateway")
    services = _compose()["services"]
    ids = {services[g]["environment"]["RAGSTREAM_GATEWAY__INSTANCE_ID"] for g in gateways}
    assert len(ids) == 2
    proxy = (DEPLOY / "nginx" / "nginx.conf").read_text()
    assert all(f"server {g}:8765" in proxy for g in gateways)
    assert "proxy_set_header Upgrade $http_upgrade" in proxy
    assert "model-server" in services


def test_compose_embed_has_replicas_and_every_worker_shares_the_home_volume() -> None:
    """embed runs two replicas; every worker mounts the shared volume at RAGSTREAM_HOME (local blobs)."""
    services = _compose()["services"]
    assert services["embed"]["deploy"]["replicas"] == 2
    for stage in _worker_services():
        service = services[stage]
        home = service["environment"]["RAGSTREAM_HOME"]
        assert f"home:{home}" in service["volumes"], stage
        assert service["environment"]["RAGSTREAM_KAFKA__BOOTSTRAP"] == "kafka:9092"
        assert service["depends_on"]["topic-init"]["condition"] == "service_completed_successfully"


def test_compose_dependencies_exist_and_have_healthchecks() -> None:
    """Each service_healthy dependency names a service that defines a healthcheck."""
    services = _compose()["services"]
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):  # the short form: plain names, started-only
            depends = {key: {"condition": "service_started"} for key in depends}
        for dependency, spec in depends.items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if spec.get("condition") == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"


def test_prometheus_scrapes_every_role_service() -> None:
    """The compose Prometheus config discovers exactly the role services and scrapes kafka-exporter."""
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    names = {name for sd in jobs["ragstream"]["dns_sd_configs"] for name in sd["names"]}
    assert names == set(_worker_services())
    assert jobs["kafka-exporter"]["static_configs"][0]["targets"] == ["kafka-exporter:9308"]


# ---------------------------------------------------------------------------------------- settings
def test_every_ragstream_variable_maps_to_a_settings_field() -> None:
    """Each RAGSTREAM_* name in compose, Helm, Dockerfile, deploy files and model configs is a real
    settings field (the 8B config once named RAGSTREAM_MODELS__LLM_FAST_URL, which none reads)."""
    paths = [COMPOSE, ROOT / "Dockerfile", ROOT / "model_serving" / "README.md"]
    paths += sorted((ROOT / "model_serving" / "configs").glob("*.yaml"))
    paths += [p for base in (ROOT / "helm", DEPLOY) for p in sorted(base.rglob("*")) if p.is_file()]
    found = _env_names(paths)
    assert "RAGSTREAM_KAFKA__BOOTSTRAP" in found
    # read by the model servers (model_serving/bundled.py), which have no services settings tree
    serving_only = {"RAGSTREAM_MODEL_CACHE"}
    unknown = {
        name: sorted(where)
        for name, where in found.items()
        if not _setting_exists(name) and name not in serving_only
    }
    assert not unknown, f"not settings fields: {unknown}"


def test_setting_walk_rejects_unknown_names() -> None:
    """The settings walk itself tells real fields from typos and from non-model leaves."""
    assert _setting_exists("RAGSTREAM_STORES__NEO4J_PASSWORD")
    assert _setting_exists("RAGSTREAM_HOME")
    assert not _setting_exists("RAGSTREAM_STORES__NEO4J_PASSWD")
    assert not _setting_exists("RAGSTREAM_HOME__X")
    assert not _setting_exists("RAGSTREAM_REDIS__URL")


# ------------------------------------------------------------------------------------------- helm
def _lookup(values: dict[str, Any], dotted: str) -> bool:
    node: Any = values
    for key in dotted.strip(".").split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


@pytest.mark.parametrize("template", sorted((CHART / "templates").iterdir()), ids=lambda p: p.name)
def test_helm_template_references_only_existing_values(template: Path) -> None:
    """Every `.Values.a.b` a template reads is defined in values.yaml."""
    values = _values()
    missing = [ref for ref in VALUES_REF.findall(template.read_text()) if not _lookup(values, ref)]
    assert not missing, f"{template.name} reads undefined values {sorted(set(missing))}"


def test_helm_values_define_exactly_the_roles() -> None:
    """values.roles has one entry per role of services/roles.py; the pods run `ragstream worker`."""
    assert sorted(_values()["roles"]) == sorted(roles.names())
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    assert 'command: ["ragstream", "worker", {{ .role | quote }}]' in helpers


def test_keda_consumer_groups_match_the_code() -> None:
    """Each consuming role's KEDA triggers are its input topics with the consumer groups it joins;
    roles that consume nothing with a group (gateway, api) have none."""
    values = _values()["roles"]
    for role in roles.ROLES:
        expected = {(spec.name, consumer_group(TopicNames(), role.name, spec)) for spec in role.consumes}
        if role.kind == "edge":
            expected = set()
        triggers = {(t["topic"], t["consumerGroup"]) for t in values[role.name].get("triggers", [])}
        assert triggers == expected, role.name


def test_keda_prefixing_matches_topic_names() -> None:
    """The chart prefixes topic and group by concatenation (the rendered triggers are checked in
    test_manifest_validation), which is what TopicNames does."""
    prefixed = TopicNames("team-a.")
    for stage, specs in CONSUMERS.items():
        for spec in specs:
            assert prefixed(spec) == "team-a." + spec.name
            assert consumer_group(prefixed, stage, spec) == "team-a." + consumer_group(
                TopicNames(), stage, spec
            )


def test_keda_never_scales_past_the_partition_count() -> None:
    """No stage may scale beyond the partitions of its input topics (idle consumers do nothing)."""
    values = _values()
    for role, spec in values["roles"].items():
        if "autoscaling" in spec:
            assert spec["autoscaling"]["maxReplicas"] <= values["kafka"]["partitions"], role


# ---------------------------------------------------------------------------------------- karpenter
def test_karpenter_manifests_use_the_v1_apis() -> None:
    """NodePools are karpenter.sh/v1, EC2NodeClasses karpenter.k8s.aws/v1, and nothing else appears."""
    expected = {"NodePool": "karpenter.sh/v1", "EC2NodeClass": "karpenter.k8s.aws/v1"}
    kinds = []
    for path in sorted(KARPENTER.glob("*.yaml")):
        for doc in _yaml_docs(path):
            assert doc["apiVersion"] == expected[doc["kind"]], path.name
            kinds.append(doc["kind"])
    assert kinds.count("NodePool") >= 2
    assert kinds.count("EC2NodeClass") >= 1


def test_no_provisioner_api_anywhere() -> None:
    """The removed v1alpha5 Provisioner API (and the v1beta1 one) appears in no deployment file."""
    removed = re.compile(r"kind:\s*[\"']?Provisioner\b|karpenter\.sh/v1alpha5|karpenter\.sh/v1beta1")
    roots = [ROOT / "helm", KARPENTER, DEPLOY, TERRAFORM]
    files = [COMPOSE, *(p for root in roots for p in root.rglob("*") if p.is_file())]
    offenders = [str(p.relative_to(ROOT)) for p in files if removed.search(p.read_text())]
    assert not offenders


def _karpenter_objects(kind: str) -> dict[str, dict[str, Any]]:
    return {
        doc["metadata"]["name"]: doc
        for path in sorted(KARPENTER.glob("*.yaml"))
        for doc in _yaml_docs(path)
        if doc["kind"] == kind
    }


def test_gpu_nodepool_is_tainted_limited_and_scales_to_zero() -> None:
    """The GPU pool takes g5/g6/p4d, taints nvidia.com/gpu, has limits and consolidates empty nodes."""
    pools, classes = _karpenter_objects("NodePool"), _karpenter_objects("EC2NodeClass")
    gpu = pools["gpu"]["spec"]
    families = next(
        r["values"]
        for r in gpu["template"]["spec"]["requirements"]
        if r["key"] == "karpenter.k8s.aws/instance-family"
    )
    assert {"g5", "g6", "p4d"} <= set(families)
    assert {t["key"] for t in gpu["template"]["spec"]["taints"]} == {"nvidia.com/gpu"}
    assert "nvidia.com/gpu" in gpu["limits"]
    assert gpu["disruption"]["consolidationPolicy"] in {"WhenEmpty", "WhenEmptyOrUnderutilized"}
    for name, pool in pools.items():
        ref = pool["spec"]["template"]["spec"]["nodeClassRef"]
        assert (ref["group"], ref["kind"]) == ("karpenter.k8s.aws", "EC2NodeClass"), name
        assert ref["name"] in classes, name


def test_karpenter_and_terraform_agree_on_names() -> None:
    """EC2NodeClasses name the node role and discovery tag terraform creates for its default cluster."""
    variables = (TERRAFORM / "variables.tf").read_text()
    match = re.search(r'variable "cluster_name" \{.*?default\s*=\s*"([^"]+)"', variables, re.S)
    assert match
    cluster = match.group(1)
    assert '"KarpenterNodeRole-${local.name}"' in (TERRAFORM / "main.tf").read_text()
    for name, node_class in _karpenter_objects("EC2NodeClass").items():
        spec = node_class["spec"]
        assert spec["role"] == f"KarpenterNodeRole-{cluster}", name
        for terms in (spec["subnetSelectorTerms"], spec["securityGroupSelectorTerms"]):
            assert terms == [{"tags": {"karpenter.sh/discovery": cluster}}], name
    cpu_selector = _values()["nodeSelector"]
    cpu_labels = _karpenter_objects("NodePool")["cpu"]["spec"]["template"]["metadata"]["labels"]
    assert cpu_selector.items() <= cpu_labels.items(), "the chart's workers land on the CPU pool"

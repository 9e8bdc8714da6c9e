"""The Helm chart rendered offline (Helm's own engine, from the PyPI package helm-python-sdk) for
several value sets, every object validated against the Kubernetes schemas (kubernetes-validate,
strict) or the vendored CRD schemas (KEDA, KubeRay, Prometheus Operator, External Secrets,
Karpenter), and compose.yaml against the compose specification. What that cannot show (admission
webhooks, the operators' runtime behaviour, a real cluster) is listed in docs/operations.md."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml

from services import roles
from services.catchup import generation_names, group_suffix
from services.common.stage import consumer_group
from topics import TopicNames

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "ragstream"
SCHEMAS = ROOT / "deploy" / "schemas"
KUBERNETES = "1.31"
CRDS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_scaledobject_v1alpha1.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda.sh_triggerauthentication_v1alpha1.json",
    ("ray.io/v1", "RayService"): "ray.io_rayservice_v1.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com_servicemonitor_v1.json",
    ("external-secrets.io/v1", "ExternalSecret"): "external-secrets.io_externalsecret_v1.json",
    ("karpenter.sh/v1", "NodePool"): "karpenter.sh_nodepool_v1.json",
    ("karpenter.k8s.aws/v1", "EC2NodeClass"): "karpenter.k8s.aws_ec2nodeclass_v1.json",
}
NOT_GENERATION = set(roles.names()) - set(roles.GENERATION_STAGES)
AURORA = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!cluster-1"
MSK_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_ragstream"
MSK = {"protocol": "SASL_SSL", "saslMechanism": "SCRAM-SHA-512", "username": "ragstream"}
BASE = {"kafka": {"bootstrap": "b-1.msk:9092,b-2.msk:9092"}, "secrets": {"neo4jPassword": "pw"}}
VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": BASE,
    "cluster": {
        "kafka": BASE["kafka"] | {"topicPrefix": "team-a.", "security": MSK},
        "secrets": {"externalSecret": {"enabled": True, "kafkaKey": MSK_SECRET,
                                       "aurora": {"secretKey": AURORA, "host": "db"}}},
        "external": {"s3": {"bucket": "blobs"}, "redis": {"url": "rediss://cache:6379/0"}},
        "home": {"persistence": {"enabled": False}},
        "roles": {"index": {"autoscaling": {"maxReplicas": 4}}},
        "ingress": {"enabled": True, "tls": [{"secretName": "rag-tls", "hosts": ["rag.example.com"]}]},
        "gateway": {"publicUrl": "wss://rag.example.com/ws"},
        "metrics": {"serviceMonitor": {"enabled": True}},
        "modelServing": {"enabled": True},
    },
    "sasl-secret": BASE | {"kafka": BASE["kafka"] | {"security": MSK},
                           "secrets": {"neo4jPassword": "pw", "kafkaPassword": "k"}},
    "reindex-v2": BASE | {"kafka": BASE["kafka"] | {"topicPrefix": "team-a."}, "generation": "v2",
                          "roles": {r: {"enabled": False} for r in NOT_GENERATION}},
    "small-gpu": BASE | {"modelServing": {"enabled": True, "profile": "8b", "gpuWorkers": {"gpusPerPod": 1}}},
    "no-keda": BASE | {"keda": {"enabled": False}, "secrets": {"existingSecret": "mine"},
                       "podDisruptionBudget": {"enabled": False}, "deploymentId": "eu-1"},
}  # fmt: skip


@cache
def rendered(name: str) -> tuple[dict[str, Any], ...]:
    with helm.Chart.load(str(CHART)) as chart:
        out = chart.render(VALUE_SETS[name], name="rag", namespace="prod")
    return tuple(
        doc
        for path, text in sorted(out.items())
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    )


@cache
def crd_schema(key: tuple[str, str]) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / "crds" / CRDS[key]).read_text())
    return schema


def validate(doc: dict[str, Any]) -> None:
    key = (doc["apiVersion"], doc["kind"])
    if key in CRDS:
        jsonschema.Draft7Validator(crd_schema(key)).validate(doc)
    else:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def of_kind(docs: tuple[dict[str, Any], ...], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pods(docs: tuple[dict[str, Any], ...]) -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet"):
            yield doc["metadata"]["labels"]["app.kubernetes.io/component"], doc["spec"]["template"]["spec"]


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_every_rendered_object_is_valid(name: str) -> None:
    """Each object of the value set passes its schema (unknown fields fail: strict)."""
    docs = rendered(name)
    assert docs
    failures = []
    for doc in docs:
        try:
            validate(doc)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as exc:
            failures.append(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message}")
    assert failures == []


def test_the_validation_can_fail() -> None:
    """A Deployment with a misspelt field and a ScaledObject with a bad field are refused."""
    deployment = next(d for d in rendered("defaults") if d["kind"] == "Deployment")
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["replicaz"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)
    scaled = json.loads(json.dumps(next(d for d in rendered("defaults") if d["kind"] == "ScaledObject")))
    scaled["spec"]["pollingInterval"] = "often"
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled)


def test_every_role_runs_with_probes_resources_and_the_runtime_seccomp_profile() -> None:
    """One workload per role of services/roles.py, each pod with liveness and readiness probes,
    resource requests, seccompProfile RuntimeDefault, and a PodDisruptionBudget."""
    docs = rendered("cluster")
    found = dict(pods(docs))
    assert sorted(found) == sorted(roles.names())
    for role, spec in found.items():
        [container] = spec["containers"]
        assert container["command"] == ["ragstream", "worker", role]
        assert {"livenessProbe", "readinessProbe"} <= set(container), role
        assert container["resources"]["requests"], role
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, role
    budgets = {
        d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
        for d in docs
        if d["kind"] == "PodDisruptionBudget"
    }
    assert budgets == set(roles.names())


def test_keda_scales_every_consuming_role_on_its_own_groups() -> None:
    """A ScaledObject per role that consumes with a group, its triggers the code's groups, prefixed."""
    docs = rendered("cluster")
    prefixed = TopicNames("team-a.")
    scaled = of_kind(docs, "ScaledObject")
    consuming = [r for r in roles.ROLES if r.kind != "edge"]
    assert len(scaled) == len(consuming)
    for role in consuming:
        [obj] = [o for o in scaled.values() if o["spec"]["scaleTargetRef"]["name"].endswith(f"-{role.name}")]
        triggers = {(t["metadata"]["topic"], t["metadata"]["consumerGroup"]) for t in obj["spec"]["triggers"]}
        assert triggers == {(prefixed(s), consumer_group(prefixed, role.name, s)) for s in role.consumes}


def test_gateways_keep_their_names_and_websockets_stay_open() -> None:
    """The gateway is a StatefulSet whose pod name is its instance id; the Ingress sends /ws and /
    to it with long proxy timeouts and /v1 to the API."""
    docs = rendered("cluster")
    [gateway] = of_kind(docs, "StatefulSet").values()
    env = {e["name"]: e for e in gateway["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["RAGSTREAM_GATEWAY__INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    [ingress] = of_kind(docs, "Ingress").values()
    assert int(ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    paths = {p["path"]: p["backend"]["service"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert paths["/"].endswith("-gateway")
    assert paths["/v1"].endswith("-api")


def test_the_tool_role_may_reach_no_more_than_kafka_the_stores_and_dns() -> None:
    """The tool pods' NetworkPolicy admits nothing in and lets out only the listed ports to
    private addresses (no internet)."""
    [policy] = of_kind(rendered("defaults"), "NetworkPolicy").values()
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "tool"
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == []
    for rule in spec["egress"]:
        for peer in rule.get("to", []):
            assert peer["ipBlock"]["cidr"] in {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}
    ports = {p["port"] for rule in spec["egress"] for p in rule["ports"]}
    assert 443 not in ports
    assert 80 not in ports


def test_model_servers_run_on_the_gpu_pool_with_one_route_per_app() -> None:
    """The RayService's GPU workers tolerate and select the Karpenter GPU pool, its Serve config
    routes embed, rerank and llm apart, and the roles are pointed at those routes."""
    docs = rendered("cluster")
    [service] = of_kind(docs, "RayService").values()
    config = yaml.safe_load(service["spec"]["serveConfigV2"])
    assert sorted(a["route_prefix"] for a in config["applications"]) == ["/embed", "/llm", "/rerank"]
    [workers] = service["spec"]["rayClusterConfig"]["workerGroupSpecs"]
    pod = workers["template"]["spec"]
    pool = next(
        d
        for p in sorted((ROOT / "karpenter").glob("nodepool-gpu.yaml"))
        for d in yaml.safe_load_all(p.read_text())
    )
    taint = pool["spec"]["template"]["spec"]["taints"][0]
    assert {
        "key": taint["key"],
        "operator": "Equal",
        "value": taint["value"],
        "effect": taint["effect"],
    } in pod["tolerations"]
    assert (
        pod["nodeSelector"]["ragstream.io/node-class"]
        == pool["spec"]["template"]["metadata"]["labels"]["ragstream.io/node-class"]
    )
    _, retrieve = next((r, s) for r, s in pods(docs) if r == "retrieve")
    env = {e["name"]: e.get("value") for e in retrieve["containers"][0]["env"]}
    assert env["RAGSTREAM_MODELS__LLM_URL"].endswith("-models-serve-svc:8000/llm")
    assert env["RAGSTREAM_MODELS__EMBEDDINGS_URL"].endswith("/embed")


def test_the_ingress_routes_the_ops_page_to_the_api_and_not_the_swagger_page() -> None:
    """/ops fell under the gateways' "/" (a failed websocket handshake: the ops page was unreachable);
    /docs put a CDN's script on the chat page's origin."""
    [ingress] = of_kind(rendered("cluster"), "Ingress").values()
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    routes = {p["path"]: p["backend"]["service"]["name"] for p in paths}
    assert routes["/ops"] == routes["/v1"] != routes["/"]
    assert "/docs" not in routes


def test_every_pod_names_the_deployment_the_same_way() -> None:
    """The answer cache and the gateway registry in a shared Redis are the deployment's own: offline
    (no cluster to read the namespace's uid from) <namespace>-<release>, or the value given."""
    for name, want in (("defaults", "prod-rag"), ("no-keda", "eu-1")):
        ids = {
            env["value"]
            for _, spec in pods(rendered(name))
            for container in spec["containers"]
            for env in container.get("env", [])
            if env["name"] == "RAGSTREAM_DEPLOYMENT_ID"
        }
        assert ids == {want}, name


def test_the_service_monitor_renders_only_where_asked_and_keeps_the_stage_label() -> None:
    """auto (the default) renders nothing without the operator's API; its relabelling writes the
    pod's role to `component`, never over the metrics' own `stage` label."""
    assert not of_kind(rendered("defaults"), "ServiceMonitor")
    [monitor] = of_kind(rendered("cluster"), "ServiceMonitor").values()
    targets = {r["targetLabel"] for e in monitor["spec"]["endpoints"] for r in e.get("relabelings", [])}
    assert "stage" not in targets


def test_secrets_come_from_aurora_managed_credentials_when_asked() -> None:
    """With externalSecret, the DSN is built from the Aurora secret's username and password and no
    plain Secret is rendered."""
    docs = rendered("cluster")
    assert not of_kind(docs, "Secret")
    [external] = of_kind(docs, "ExternalSecret").values()
    props = {d["remoteRef"].get("property") for d in external["spec"]["data"]}
    assert {"username", "password"} <= props
    assert "postgres-dsn" in external["spec"]["target"]["template"]["data"]


def test_karpenter_manifests_match_their_crds() -> None:
    """NodePools and EC2NodeClasses pass the vendored Karpenter v1 schemas."""
    docs = [
        d for p in sorted((ROOT / "karpenter").glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d
    ]
    assert docs
    for doc in docs:
        validate(doc)


def test_compose_file_follows_the_compose_specification() -> None:
    """compose.yaml against the compose-spec JSON Schema (vendored: deploy/schemas/compose-spec.json)."""
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    errors = [
        f"{list(e.absolute_path)}: {e.message}"
        for e in jsonschema.Draft7Validator(schema).iter_errors(compose)
    ]
    assert errors == []
    broken = compose | {"services": {"x": {"image": "y", "restart_policy": "always"}}}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


@pytest.mark.parametrize("name", ["cluster", "sasl-secret"])
def test_every_kafka_client_authenticates_on_a_sasl_cluster(name: str) -> None:
    """With SASL the roles, the topic hook and KEDA all get the credentials: the settings' SASL
    variables (password from the Secret) and a TriggerAuthentication on every ScaledObject."""
    docs = rendered(name)
    hook = next(d for d in docs if d["kind"] == "Job")
    workloads = [spec for _, spec in pods(docs)] + [hook["spec"]["template"]["spec"]]
    for spec in workloads:
        env = {e["name"]: e for e in spec["containers"][0]["env"]}
        assert env["RAGSTREAM_KAFKA__SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
        assert env["RAGSTREAM_KAFKA__SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"
        assert env["RAGSTREAM_KAFKA__SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "kafka-password"
    [auth] = of_kind(docs, "TriggerAuthentication").values()
    assert {r["parameter"] for r in auth["spec"]["secretTargetRef"]} == {
        "sasl",
        "username",
        "password",
        "tls",
    }
    for scaled in of_kind(docs, "ScaledObject").values():
        assert all(
            t["authenticationRef"]["name"] == auth["metadata"]["name"] for t in scaled["spec"]["triggers"]
        )
    assert hook["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"


def test_a_labelled_generation_scales_and_runs_on_its_own_topics_and_groups() -> None:
    """With generation v2 the embed, extract-graph and index workers get RAGSTREAM_GENERATION and
    KEDA watches the groups and private topics those workers use (services/catchup.py); docs.chunks,
    which they replay, stays the shared topic."""
    docs = rendered("reindex-v2")
    prefixed = TopicNames("team-a.")
    own = generation_names(prefixed, "v2")
    found = dict(pods(docs))
    assert sorted(found) == sorted(roles.GENERATION_STAGES)
    for role, spec in found.items():
        env = {e["name"]: e.get("value") for e in spec["containers"][0]["env"]}
        assert env["RAGSTREAM_GENERATION"] == "v2", role
    for obj in of_kind(docs, "ScaledObject").values():
        role = roles.BY_NAME[obj["spec"]["scaleTargetRef"]["name"].removeprefix("rag-ragstream-")]
        triggers = {(t["metadata"]["topic"], t["metadata"]["consumerGroup"]) for t in obj["spec"]["triggers"]}
        assert triggers == {
            (own(s), consumer_group(own, role.name, s, group_suffix("v2"))) for s in role.consumes
        }

"""The Helm chart, rendered and linted by the real Helm engine (helm-python-sdk, offline) and
checked against Kubernetes' schemas (kubernetes-validate), for the defaults and for every
option on; the values templates use exist in values.yaml (and every value is used), and the
chart's README documents every value."""

from __future__ import annotations

import base64
import re

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from tests.harness import ROOT

CHART = ROOT / "helm" / "ironworks"
TEMPLATES = sorted((CHART / "templates").glob("*.yaml"))
VALUE_PATH = re.compile(r"\.Values\.([A-Za-z0-9_.]+)")
# Values handed to Kubernetes whole (toYaml): documented and used as one.
OPAQUE = {"resources", "nodeSelector", "tolerations", "labels"}


def values() -> dict:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def value_paths(tree: dict, prefix: str = "") -> set[str]:
    paths = set()
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and key not in OPAQUE:
            paths |= value_paths(value, f"{path}.")
        else:
            paths.add(path)
    return paths


def used_paths() -> set[str]:
    sources = [*TEMPLATES, CHART / "templates" / "_helpers.tpl"]
    return {m for path in sources for m in VALUE_PATH.findall(path.read_text())}


KUBERNETES = "1.30.0"
VALUE_SETS = {
    "defaults": {"adminToken": "t"},
    "every option": {
        "adminToken": "t",
        "api": {
            "replicas": 2,
            "blobsClaim": "blobs",
            "ingress": {"enabled": True, "tlsSecretName": "web-tls"},
        },
        "runner": {"dind": {"enabled": True}},
        "redis": {
            "tls": {"secretName": "redis-tls"},
            "password": "pw",
            "networkPolicy": {"nodeCidrs": ["10.0.0.0/16"]},
        },
        "metrics": {"serviceMonitor": {"enabled": True}},
    },  # fmt: skip
    "external redis": {"existingSecret": "mine", "redis": {"url": "redis://r:6379/0"}},
    "redis behind sentinel": {
        "adminToken": "t",
        "redis": {"url": "redis+sentinel://:pw@s1:26379,s2:26379,s3:26379/iw/0", "minReplicas": 1},
    },
}


def rendered(values: dict) -> list[dict]:
    manifests = helm.Chart.load(CHART).render(values, name="iw", namespace="ns")
    return [d for text in manifests.values() for d in yaml.safe_load_all(text) if d]


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_the_chart_renders_to_valid_kubernetes_manifests(values):
    assert helm.lint(CHART, values)["errors"] == []
    for manifest in rendered(values):
        if manifest["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a CRD: Kubernetes' own schemas do not cover it
        kubernetes_validate.validate(manifest, KUBERNETES, strict=True)


def containers(manifests: list[dict]) -> dict[str, dict]:
    return {
        c["name"]: c
        for m in manifests
        if m["kind"] in ("Deployment", "DaemonSet", "StatefulSet")
        for c in m["spec"]["template"]["spec"]["containers"]
    }


def test_the_in_chart_redis_takes_a_password_and_only_ironworks_pods():
    manifests = rendered(VALUE_SETS["defaults"])
    found = containers(manifests)
    assert "--requirepass" in found["redis"]["args"]
    assert "--protected-mode" not in found["redis"]["args"]
    args = found["redis"]["args"]
    assert args[args.index("--save") + 1] == ""  # the AOF keeps the writes; no snapshots
    for role in ("api", "scheduler", "runner"):
        env = [e["name"] for e in found[role]["env"]]
        url = next(e["value"] for e in found[role]["env"] if e["name"] == "IRONWORKS_REDIS_URL")
        assert ":$(REDIS_PASSWORD)@" in url
        assert env.index("REDIS_PASSWORD") < env.index("IRONWORKS_REDIS_URL")  # expandable
    [policy] = [m for m in manifests if m["kind"] == "NetworkPolicy"]
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "redis"
    [secret] = [m for m in manifests if m["kind"] == "Secret"]
    assert len(secret["stringData"]["redis-password"]) == 32


def test_redis_over_tls_is_what_every_role_connects_to():
    found = containers(rendered(VALUE_SETS["every option"]))
    assert "--tls-port" in found["redis"]["args"]
    for role in ("api", "scheduler", "runner"):
        url = next(e["value"] for e in found[role]["env"] if e["name"] == "IRONWORKS_REDIS_URL")
        assert url.startswith("rediss://") and "ssl_ca_certs=/tls/redis/ca.crt" in url
        assert "/tls/redis" in [m["mountPath"] for m in found[role]["volumeMounts"]]


def test_every_role_can_follow_a_redis_behind_sentinel():
    values = VALUE_SETS["redis behind sentinel"]
    found = containers(rendered(values))
    assert "redis" not in found  # no Redis of the chart's own
    for role in ("api", "scheduler", "runner"):
        env = {e["name"]: e.get("value") for e in found[role]["env"]}
        assert env["IRONWORKS_REDIS_URL"] == values["redis"]["url"]
        assert env["IRONWORKS_REDIS_MIN_REPLICAS"] == "1"


def test_the_chart_has_every_part_the_operator_needs():
    kinds = [m["kind"] for m in rendered(VALUE_SETS["every option"])]
    for kind in ("Deployment", "DaemonSet", "StatefulSet", "Service", "Ingress", "Secret",
                 "ServiceMonitor", "PodDisruptionBudget", "NetworkPolicy"):  # fmt: skip
        assert kind in kinds
    assert kinds.count("Deployment") == 2  # API and scheduler


def test_values_used_by_templates_exist_and_every_value_is_used():
    known, used = value_paths(values()), used_paths()
    missing = {p for p in used if not any(p == k or k.startswith(f"{p}.") for k in known)}
    assert not missing, f"templates use values that values.yaml lacks: {missing}"
    unused = {k for k in known if not any(k == u or k.startswith(f"{u}.") for u in used)}
    assert not unused, f"values no template uses: {unused}"


def test_the_readme_documents_every_value_and_nothing_else():
    documented = set(re.findall(r"^\| `([^`]+)` \|", (CHART / "README.md").read_text(), re.M))
    known = value_paths(values())
    assert known - documented == set(), "undocumented values"
    assert documented - known == set(), "documented values that do not exist"


def test_every_role_gets_a_secrets_key_the_chart_generates_once():
    manifests = rendered(VALUE_SETS["defaults"])
    [secret] = [m for m in manifests if m["kind"] == "Secret"]
    assert len(base64.b64decode(secret["stringData"]["secrets-key"], validate=True)) == 32
    for role, found in containers(manifests).items():
        if role == "redis":
            continue
        ref = next(e for e in found["env"] if e["name"] == "IRONWORKS_SECRETS_KEY")
        assert ref["valueFrom"]["secretKeyRef"]["key"] == "secrets-key", role

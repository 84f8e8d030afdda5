"""The Helm chart, checked without helm or a cluster (neither is available here): every
template is YAML once its template expressions are stubbed, the values templates use exist
in values.yaml (and every value is used), and the chart's README documents every value."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.conftest import ROOT

CHART = ROOT / "helm" / "ironworks"
TEMPLATES = sorted((CHART / "templates").glob("*.yaml"))
# Whole-line actions (control flow, includes) vanish; inline expressions become a scalar.
ACTION_LINE = re.compile(r"^\s*\{\{-?\s*(if|else|end|range|with|include|toYaml)\b.*\}\}\s*$")
EXPRESSION = re.compile(r"\{\{.*?\}\}")
VALUE_PATH = re.compile(r"\.Values\.([A-Za-z0-9_.]+)")
# Values handed to Kubernetes whole (toYaml): documented and used as one.
OPAQUE = {"resources", "nodeSelector", "tolerations", "labels"}


def stubbed(text: str) -> str:
    return "\n".join(
        EXPRESSION.sub("stub", line) for line in text.splitlines() if not ACTION_LINE.match(line)
    )


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


@pytest.mark.parametrize("template", TEMPLATES, ids=[t.name for t in TEMPLATES])
def test_every_template_is_kubernetes_yaml(template):
    documents = [d for d in yaml.safe_load_all(stubbed(template.read_text())) if d]
    assert documents
    for document in documents:
        assert {"apiVersion", "kind", "metadata"} <= document.keys(), template.name
        assert document["metadata"]["name"]


def test_the_chart_has_every_part_the_operator_needs():
    kinds = [d["kind"] for t in TEMPLATES for d in yaml.safe_load_all(stubbed(t.read_text())) if d]
    for kind in ("Deployment", "DaemonSet", "StatefulSet", "Service", "Ingress", "Secret",
                 "ServiceMonitor", "PodDisruptionBudget"):  # fmt: skip
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

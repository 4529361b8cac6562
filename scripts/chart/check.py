#!/usr/bin/env python3
"""Checks helm/axle without a cluster (run by scripts/test.sh through scripts/chart.sh).

For the default values and every helm/axle/examples/*.yaml:
  1. the values pass values.schema.json, the chart renders and `helm lint` finds no error;
  2. every manifest validates against the Kubernetes schemas (kubernetes-validate,
     offline) of the oldest and the newest Kubernetes the chart supports;
  3. the invariants the chart promises hold: gRPC probes on the health service, drain
     delay wired to terminationGracePeriodSeconds, non-root and read-only pods, no
     credential in any ConfigMap, credentials only through secretKeyRef;
  4. every rendered service configuration is accepted by the service's own binary
     (`<binary> --config FILE --print-config`: typed, unknown keys refused), and the
     sandbox's by `sandbox --check-config`.
Then values that must be refused are refused (a credential in values, replicas sharing
platecb callbacks without PostgreSQL, a malformed duration).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import tomllib

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "axle"
# The chart's kubeVersion floor (native gRPC probes are GA from 1.27) and the newest
# schemas kubernetes-validate ships.
KUBE_VERSIONS = ["1.27.0", kubernetes_validate.utils.latest_version() + ".0"]
# CRDs that kubernetes-validate has no schema for: checked by hand below.
CRD_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}
CREDENTIAL_KEYS = re.compile(r"^\s*(key|token|secret|sign_secret|store_url|internal_token)\s*=", re.M)
# Seconds kit adds to drain_delay + shutdown_grace before a process is gone at the latest
# (kit::server::CUT_BOUND + kit::telemetry::FLUSH_BOUND).
KIT_BOUNDS_S = 2

failures: list[str] = []


def fail(msg: str) -> None:
    failures.append(msg)
    print(f"  FAIL {msg}")


def seconds(text: str) -> int:
    ms = 0
    for n, unit in re.findall(r"(\d+)(ms|us|s|m|h)", text):
        ms += int(n) * {"h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1, "us": 0}[unit]
    return -(-ms // 1000)


def render(values: dict | None) -> list[dict]:
    chart = helm.Chart.load(CHART)
    chart.validate_schema(values)
    out = chart.render(values, name="axle", namespace="axle")
    docs = []
    for path, text in sorted(out.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                docs.append(doc)
    return docs


def check_manifests(label: str, docs: list[dict]) -> None:
    for doc in docs:
        kind, api, name = doc["kind"], doc["apiVersion"], doc["metadata"]["name"]
        if (api, kind) == ("monitoring.coreos.com/v1", "ServiceMonitor"):
            ep = doc.get("spec", {}).get("endpoints", [])
            if not ep or any(e.get("port") != "metrics" for e in ep):
                fail(f"{label}: {kind}/{name} must scrape the port named metrics")
            continue
        if (api, kind) == ("monitoring.coreos.com/v1", "PrometheusRule"):
            groups = doc.get("spec", {}).get("groups", [])
            rules = [r for g in groups for r in g.get("rules", [])]
            if not rules:
                fail(f"{label}: {kind}/{name} has no rules")
            for r in rules:
                if not (r.get("alert") and r.get("expr") and r.get("annotations", {}).get("runbook")):
                    fail(f"{label}: {kind}/{name}: a rule without alert, expr or runbook: {r}")
            continue
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                fail(f"{label}: {kind}/{name} invalid for Kubernetes {version}: {e.message} at {list(e.path)}")

    configmaps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    for cm in configmaps.values():
        for key, text in cm.get("data", {}).items():
            if key.endswith(".json"):
                dash = json.loads(text)
                targets = [t for p in dash.get("panels", []) for t in p.get("targets", [])]
                if not targets or any(not t.get("expr") for t in targets):
                    fail(f"{label}: ConfigMap/{cm['metadata']['name']} {key}: a panel without a query")
    for cm in configmaps.values():
        for key, text in cm.get("data", {}).items():
            if CREDENTIAL_KEYS.search(text):
                fail(f"{label}: ConfigMap/{cm['metadata']['name']} {key} holds a credential")

    for d in (d for d in docs if d["kind"] == "Deployment"):
        name = d["metadata"]["name"]
        pod = d["spec"]["template"]["spec"]
        sc = pod.get("securityContext", {})
        if not sc.get("runAsNonRoot"):
            fail(f"{label}: Deployment/{name} may run as root")
        for c in pod["containers"]:
            csc = c.get("securityContext", {})
            if not csc.get("readOnlyRootFilesystem") or csc.get("allowPrivilegeEscalation", True):
                fail(f"{label}: Deployment/{name} container {c['name']} is not locked down")
            for env in c.get("env", []):
                if "value" in env and re.search(r"KEY|TOKEN|SECRET|STORE_URL|REDIS__URL", env["name"]):
                    fail(f"{label}: Deployment/{name} sets {env['name']} in plain text")
        if name.endswith("-sandbox"):
            continue
        c = pod["containers"][0]
        grpc_port = next(p["containerPort"] for p in c["ports"] if p["name"] == "grpc")
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            p = c.get(probe, {}).get("grpc")
            if not p or p.get("port") != grpc_port or not p.get("service"):
                fail(f"{label}: Deployment/{name} {probe} is not a gRPC health check on {grpc_port}")
        cm = configmaps[pod["volumes"][0]["configMap"]["name"]]
        server = tomllib.loads(cm["data"]["config.toml"]).get("server", {})
        want = seconds(server.get("drain_delay", "0s")) + seconds(server.get("shutdown_grace", "30s")) + KIT_BOUNDS_S
        got = pod["terminationGracePeriodSeconds"]
        if got < want:
            fail(f"{label}: Deployment/{name} terminationGracePeriodSeconds {got} < drain_delay + shutdown_grace + {KIT_BOUNDS_S} = {want}")
        if server.get("listen", "").rsplit(":", 1)[-1] != str(grpc_port):
            fail(f"{label}: Deployment/{name} listens on {server.get('listen')} but exposes {grpc_port}")


def check_configs(label: str, docs: list[dict], bin_dir: Path | None, work: Path) -> None:
    if bin_dir is None:
        return
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("AXLE_")}
    for d in (d for d in docs if d["kind"] == "Deployment"):
        c = d["spec"]["template"]["spec"]["containers"][0]
        binary = Path(c["command"][0]).name
        cm_name = d["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"]
        cm = next(x for x in docs if x["kind"] == "ConfigMap" and x["metadata"]["name"] == cm_name)
        (fname, text), = cm["data"].items()
        path = work / f"{label.replace('/', '_')}-{cm_name}-{fname}"
        path.write_text(text, encoding="utf-8")
        exe = bin_dir / binary
        if not exe.exists():
            fail(f"{label}: {d['metadata']['name']} runs {binary}, which the workspace does not build")
            continue
        args = [str(exe), "--config", str(path)]
        args += ["--check-config"] if binary == "sandbox" else ["--print-config"]
        # The variables filled from the Secret, with stand-in values: a name that is no
        # configuration key is refused here, not in production.
        from_secret = {e["name"]: "stand-in" for e in c.get("env", []) if "valueFrom" in e}
        r = subprocess.run(args, env={**env, **from_secret}, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            fail(f"{label}: {binary} refuses the chart's {fname}: {r.stderr.strip() or r.stdout.strip()}")
        else:
            print(f"  ok   {binary} accepts {cm_name}/{fname}")


def expect_refused(what: str, values: dict, needle: str) -> None:
    try:
        render(values)
    except helm.HelmError as e:
        if needle in str(e):
            print(f"  ok   refused: {what}")
            return
        fail(f"refused {what}, but not for the expected reason: {e}")
        return
    fail(f"accepted {what}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", type=Path, help="where the service binaries are built (skips step 4 when absent)")
    args = ap.parse_args()

    cases: list[tuple[str, dict | None]] = [("values.yaml", None)]
    for f in sorted((CHART / "examples").glob("*.yaml")):
        cases.append((f"examples/{f.name}", yaml.safe_load(f.read_text(encoding="utf-8"))))

    with tempfile.TemporaryDirectory(prefix="axle-chart-") as tmp:
        for label, values in cases:
            print(f"==> {label}")
            report = helm.lint(CHART, values, strict=False)
            for m in report.get("messages", []):
                if m["severity"] >= 3:
                    fail(f"{label}: helm lint: {m['path']}: {m['error']}")
            for e in report.get("errors", []):
                fail(f"{label}: helm lint: {e}")
            try:
                docs = render(values)
            except helm.HelmError as e:
                fail(f"{label}: does not render: {e}")
                continue
            kinds = sorted({d["kind"] for d in docs})
            print(f"  ok   rendered {len(docs)} objects: {', '.join(kinds)}")
            check_manifests(label, docs)
            check_configs(label, docs, args.bin_dir, Path(tmp))

    print("==> values that must be refused")
    expect_refused(
        "a vendor key in values",
        {"services": {"vin": {"config": {"vendors": {"connapi": {"key": "k"}}}}}},
        "not",
    )
    expect_refused(
        "a PostgreSQL URL (with its password) in values",
        {"services": {"violation": {"config": {"vendors": {"apistore": {"callback": {"store_url": "postgres://u:p@h/db"}}}}}}},
        "not",
    )
    expect_refused(
        "a Redis URL (with its password) in values",
        {"services": {"aggregator": {"config": {"cache": {"redis": {"url": "redis://:p@h:6379/0"}}}}}},
        "not",
    )
    expect_refused(
        "the internal token in values",
        {"services": {"plate": {"config": {"privacy": {"internal_token": "t"}}}}},
        "not",
    )
    expect_refused(
        "two plate replicas with platecb and no PostgreSQL",
        {"services": {"plate": {"replicas": 2, "config": {"vendors": {"platecb": {"enabled": True}}}}}},
        "needs postgresql.enabled",
    )
    expect_refused(
        "violation replicas autoscaled with apistore and no PostgreSQL",
        {"services": {"violation": {"autoscaling": {"enabled": True},
                                    "config": {"vendors": {"apistore": {"enabled": True}}}}}},
        "needs postgresql.enabled",
    )
    expect_refused(
        "a drain_delay without a unit",
        {"defaults": {"config": {"server": {"drain_delay": "5"}}}},
        "is not a duration",
    )
    expect_refused("an unknown top-level value", {"replicaCount": 3}, "replicaCount")

    if failures:
        print(f"chart: {len(failures)} problem(s)")
        return 1
    print("chart: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

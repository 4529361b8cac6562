"""Every metric the chart's Grafana dashboard and alert rules query is exported.

The queries come from helm/axle/files/dashboards/*.json (panel targets and template
variables) and helm/axle/files/alerts.yaml; the exposition from the running suite's
/metrics (scripts/clients.sh), after the calls below made every series exist. A query
naming a metric, or a label of a metric, that the services do not export would draw an
empty panel or an alert that can never fire: this test fails instead.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import grpc
import pytest
import yaml

from axle.aggregator.v1 import aggregator_pb2, aggregator_pb2_grpc
from axle.plate.v1 import plate_pb2, plate_pb2_grpc
from axle.vin.v1 import vin_pb2, vin_pb2_grpc

CHART_FILES = Path(__file__).resolve().parents[2] / "helm" / "axle" / "files"
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan",
}
GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
SELECTOR = re.compile(r"([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}")
MATCHER_LABEL = re.compile(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)")
IDENT = re.compile(r"(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?")


def queries() -> list[tuple[str, str]]:
    """(where, PromQL) for every dashboard target and template query and every alert."""
    out = []
    for path in sorted((CHART_FILES / "dashboards").glob("*.json")):
        dash = json.loads(path.read_text(encoding="utf-8"))
        panels = list(dash.get("panels", []))
        for p in list(panels):
            panels.extend(p.get("panels", []))  # panels inside collapsed rows
        for p in panels:
            for t in p.get("targets", []):
                out.append((f"{path.name}: panel {p.get('title')!r}", t["expr"]))
        for var in dash.get("templating", {}).get("list", []):
            q = var.get("query")
            if isinstance(q, dict):
                out.append((f"{path.name}: variable ${var['name']}", q["query"]))
    rules = yaml.safe_load((CHART_FILES / "alerts.yaml").read_text(encoding="utf-8"))
    for group in rules["groups"]:
        for rule in group["rules"]:
            out.append((f"alerts.yaml: {rule['alert']}", rule["expr"]))
    assert out, "no queries found"
    return out


def parse(expr: str) -> tuple[dict[str, set[str]], set[str]]:
    """Metric names with the labels their matchers use, and the grouping labels."""
    lv = re.fullmatch(r"\s*label_values\(\s*([a-zA-Z_:][\w:]*)\s*,\s*(\w+)\s*\)\s*", expr)
    if lv:
        return {lv.group(1): {lv.group(2)}}, set()
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings: label values, not names
    text = re.sub(r"\$\w+", "1m", text)  # Grafana variables ($__rate_interval ...)
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    grouping = set()
    for m in GROUPING.finditer(text):
        grouping |= {g.strip() for g in m.group(2).split(",") if g.strip()}
    text = GROUPING.sub(" ", text)
    metrics: dict[str, set[str]] = {}
    for m in SELECTOR.finditer(text):
        metrics.setdefault(m.group(1), set()).update(MATCHER_LABEL.findall(m.group(2)))
    text = re.sub(r"\{[^}]*\}", " ", text)
    for m in IDENT.finditer(text):
        name, call = m.group(1), m.group(2)
        if call or name in PROMQL_WORDS or re.fullmatch(r"e\d*", name):
            continue
        metrics.setdefault(name, set())
    return metrics, grouping


def exposition(url: str) -> dict[str, set[str] | None]:
    """Sample name -> label names seen (None: the family exists, no series yet)."""
    with urllib.request.urlopen(url, timeout=10) as r:
        text = r.read().decode()
    names: dict[str, set[str] | None] = {}
    suffixes = {"counter": ["_total", "_created"], "histogram": ["_bucket", "_sum", "_count"],
                "gauge": [""], "info": ["_info"], "summary": ["_sum", "_count", ""]}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(maxsplit=3)
            for s in suffixes.get(kind, [""]):
                names.setdefault(family + s, None)
        elif line and not line.startswith("#"):
            m = re.match(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s", line)
            assert m, f"unparsable exposition line: {line}"
            labels = set(re.findall(r'([a-zA-Z_]\w*)="', m.group(2) or ""))
            seen = names.get(m.group(1)) or set()
            names[m.group(1)] = seen | labels
    return names


def sandbox(suite: dict, method: str, body=None) -> None:
    req = urllib.request.Request(
        f"http://{suite['sandbox']}/_sandbox/faults",
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 200


@pytest.fixture(scope="module")
def exported(suite) -> dict[str, set[str] | None]:
    """The suite's exposition after traffic that creates every series the queries use:
    each RPC, an error, a vendor retry (one 503 from connapi), a vendor error code (one
    603), the async vendor, the aggregator (its caches and its downstream breakers)."""
    with grpc.insecure_channel(suite["vin"]) as ch:
        vin = vin_pb2_grpc.VinServiceStub(ch)
        vin.ValidateVin(vin_pb2.ValidateVinRequest(vin="WP0AA2978BL012976"), timeout=10)
        with pytest.raises(grpc.RpcError):
            vin.ValidateVin(vin_pb2.ValidateVinRequest(vin=""), timeout=10)
        sandbox(suite, "POST", [{"vendor": "connapi", "times": 1,
                                 "action": {"kind": "http_status", "status": 503}}])
        try:
            vin.DecodeVin(vin_pb2.DecodeVinRequest(vin="LSVAM4182N2123456"), timeout=15)
        finally:
            sandbox(suite, "DELETE")
        # One 603 (balance exhausted): a vendor error code counted by its meaning.
        sandbox(suite, "POST", [{"vendor": "connapi", "times": 1,
                                 "action": {"kind": "vendor_code", "code": 603}}])
        try:
            vin.DecodeVin(vin_pb2.DecodeVinRequest(vin="1HGCM82633A004352"), timeout=15)
        finally:
            sandbox(suite, "DELETE")
    with grpc.insecure_channel(suite["plate"]) as ch:
        plate = plate_pb2_grpc.PlateServiceStub(ch)
        plate.ParsePlate(plate_pb2.ParsePlateRequest(plate="粤B12345"), timeout=10)
        plate.LookupVehicle(plate_pb2.LookupVehicleRequest(plate="粤B12345"), timeout=20)
    with grpc.insecure_channel(suite["aggregator"]) as ch:
        aggregator = aggregator_pb2_grpc.AggregatorServiceStub(ch)
        # Twice: the aggregator's cache and kept responses see a miss, then a hit.
        for _ in range(2):
            aggregator.GetVehicleProfile(
                aggregator_pb2.GetVehicleProfileRequest(vin="LSVAM4182N2123456"), timeout=20
            )
    names = exposition(suite["metrics"])
    assert "grpc_server_handled_total" in names, "the suite exports no gRPC metrics"
    return names


def test_the_query_parser_finds_names_and_labels():
    metrics, grouping = parse(
        'histogram_quantile(0.99, sum by (le, vendor) '
        '(rate(vendor_call_duration_seconds_bucket{vendor=~"$v"}[$__rate_interval]))) > 3'
    )
    assert metrics == {"vendor_call_duration_seconds_bucket": {"vendor"}}
    assert grouping == {"le", "vendor"}
    metrics, _ = parse('sum(rate(a_total{x="by (y)"}[5m])) / sum(rate(b_total[5m])) > 1e3')
    assert metrics == {"a_total": {"x"}, "b_total": set()}
    assert parse("label_values(grpc_server_handled_total, grpc_service)") == (
        {"grpc_server_handled_total": {"grpc_service"}}, set())


@pytest.mark.parametrize("where,expr", queries(), ids=lambda v: v if len(v) < 60 else None)
def test_every_queried_metric_and_label_is_exported(exported, where, expr):
    metrics, grouping = parse(expr)
    assert metrics, f"{where}: no metric found in {expr!r}"
    labels_of_expr: set[str] = set()
    for name, labels in metrics.items():
        assert name in exported, f"{where}: {name} is not exported (query {expr!r})"
        have = exported[name]
        assert have is not None, f"{where}: {name} has no series after the traffic above"
        missing = labels - have
        assert not missing, f"{where}: {name} has no label {sorted(missing)} (it has {sorted(have)})"
        labels_of_expr |= have
    missing = grouping - labels_of_expr
    assert not missing, f"{where}: groups by {sorted(missing)}, which no metric of the query has"

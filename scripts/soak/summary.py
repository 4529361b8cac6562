#!/usr/bin/env python3
"""Helpers of scripts/soak.sh: set and clear the sandbox's faults, read the Tokio task
gauge, and turn the load reports into the table of docs/reliability.md, failing when a
bound is broken. Standard library only (a fresh machine has python3, nothing else)."""

import json
import statistics
import sys
import urllib.request
from pathlib import Path

# 10 % of every vendor's calls fail in one of the ways a real vendor fails, and 5 % are
# delayed 500 ms. Rules compose: a request can be both slow and failed.
VENDORS = ["connapi", "xiaoshibao", "platecb", "apistore", "apihz"]
FAULTS = [
    rule
    for v in VENDORS
    for rule in [
        {"name": f"soak {v} 503", "vendor": v, "probability": 0.03,
         "action": {"kind": "http_status", "status": 503}},
        {"name": f"soak {v} 429", "vendor": v, "probability": 0.02,
         "action": {"kind": "http_status", "status": 429, "retry_after_s": 1}},
        {"name": f"soak {v} malformed", "vendor": v, "probability": 0.03,
         "action": {"kind": "malformed"}},
        {"name": f"soak {v} reset", "vendor": v, "probability": 0.02,
         "action": {"kind": "reset"}},
        {"name": f"soak {v} slow", "vendor": v, "probability": 0.05,
         "latency": {"kind": "fixed", "ms": 500}},
    ]
]

# Bounds (docs/reliability.md states them with the figures). Pools (HTTP connections to
# the vendors, the runtime's blocking threads) grow to their working size early in a run
# and may shrink when idle: a leak is growth after that, so the last fifth of a run is
# compared with its first fifth, not with the process before the load.
RSS_GROWTH_MAX = 0.10  # last minute's mean RSS over the first minute's
FDS_GROWTH_MAX = 4  # median descriptors of the last fifth over the first fifth's (the
# vendor pools churn under the injected resets, so single samples jump both ways; a leak
# moves the median)
THREADS_GROWTH_MAX = 2  # median threads of the last fifth over the first fifth's (the
# OCR engine's inference and blocking threads start at the first photo and stay while
# photos come: in the first fifth already; a leak keeps adding)
TASKS_LEFT_MAX = 16  # Tokio tasks alive after the load beyond those before it, once the
# connections opened under load have closed when idle (soak.sh waits up to 90 s for it)


def post(url: str, body) -> None:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        r.read()


def alive_tasks(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("tokio_alive_tasks "):
                return int(float(line.split()[1]))
    sys.exit("soak: no tokio_alive_tasks in " + url)


def settled(url: str, before_file: str) -> None:
    """Prints the Tokio tasks alive now; exits 0 when they are within TASKS_LEFT_MAX of
    those before the load (soak.sh polls this while what the load opened closes once
    idle)."""
    before = int(Path(before_file).read_text().strip())
    now = alive_tasks(url)
    print(now)
    sys.exit(0 if now <= before + TASKS_LEFT_MAX else 1)


def minute_means(samples, first: bool):
    """Mean RSS (KiB) over the first or the last 60 s of (t, rss, fds) samples."""
    if not samples:
        return None
    end = samples[-1][0]
    chosen = [s[1] for s in samples if (s[0] <= 60 if first else s[0] >= end - 60)]
    return statistics.mean(chosen) if chosen else None


def fifth_median(samples, first: bool, column: int):
    """Median of `column` (2: open descriptors, 3: threads) in the first or the last fifth
    of (t, rss, fds, threads) samples."""
    if not samples:
        return None
    k = max(1, len(samples) // 5)
    part = samples[:k] if first else samples[-k:]
    return statistics.median(s[column] for s in part)


def fmt_n(n) -> str:
    return "-" if n is None else f"{n:g}"


def fmt_ms(us: float) -> str:
    return f"{us / 1000:.1f} ms" if us >= 1000 else f"{us:.0f} µs"


def report(out: Path) -> None:
    problems = []
    rows = []
    for name, label in [
        ("validate-vin", "ValidateVin, closed loop 32 callers"),
        ("parse-plate", "ParsePlate, closed loop 32 callers"),
        ("profile-vin", "GetVehicleProfile by VIN, open loop, 10 % faults + 5 % slow"),
        ("profile-photo", "GetVehicleProfile by 行驶证 photo, open loop, the same faults"),
    ]:
        r = json.loads((out / f"{name}.json").read_text())
        lat, srv = r["latency_us"], r.get("server") or {}
        not_ok = sum(r["errors"].values())
        if not_ok:
            problems.append(f"{name}: {not_ok} calls not OK: {r['errors']}")
        first = minute_means(srv.get("samples", []), True)
        last = minute_means(srv.get("samples", []), False)
        growth = (last / first - 1) if first and last else 0.0
        if growth > RSS_GROWTH_MAX:
            problems.append(f"{name}: RSS grew {growth:+.1%} between the first and last minute")
        samples = srv.get("samples", [])
        fds = (fifth_median(samples, True, 2), fifth_median(samples, False, 2))
        if fds[0] is not None and fds[1] > fds[0] + FDS_GROWTH_MAX:
            problems.append(f"{name}: descriptors grew from {fds[0]} (first fifth) to {fds[1]} (last fifth)")
        threads = (fifth_median(samples, True, 3), fifth_median(samples, False, 3))
        if threads[0] is not None and threads[1] > threads[0] + THREADS_GROWTH_MAX:
            problems.append(f"{name}: threads grew from {threads[0]} (first fifth) to {threads[1]} (last fifth)")
        rows.append(
            f"| {label}, {r['duration_s']:.0f} s | {r['sent']} | {r['ok']} | "
            f"{r['achieved_rps']:.0f}/s | {fmt_ms(lat['p50'])} | {fmt_ms(lat['p99'])} | "
            f"{fmt_ms(lat['p999'])} | {fmt_ms(lat['max'])} | "
            f"{srv.get('cpu_us_per_request', 0):.0f} µs | "
            f"{(first or 0) / 1024:.1f} → {(last or 0) / 1024:.1f} MiB ({growth:+.1%}) | "
            f"{fmt_n(fds[0])} → {fmt_n(fds[1])} | {fmt_n(threads[0])} → {fmt_n(threads[1])} |"
        )
    before = int((out / "tasks-before.txt").read_text().strip())
    after = int((out / "tasks-after.txt").read_text().strip())
    settled = (out / "tasks-settled-s.txt")
    settled = int(settled.read_text().strip()) if settled.exists() else 2
    if after > before + TASKS_LEFT_MAX:
        problems.append(f"Tokio tasks {before} before the load, {after} after it")
    print("| run | sent | ok | achieved | p50 | p99 | p99.9 | max | server CPU / request "
          "| RSS first → last minute | fds, median first → last fifth | threads, the same |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nTokio tasks alive: {before} before the runs, {after} {settled} s after them.")
    if problems:
        print("\nsoak: bounds broken:\n  " + "\n  ".join(problems), file=sys.stderr)
        sys.exit(1)
    print("\nsoak: every bound held.")


def main() -> None:
    cmd, arg = sys.argv[1], sys.argv[2]
    if cmd == "faults":
        post(arg, FAULTS)
    elif cmd == "clear":
        post(arg, [])
    elif cmd == "tasks":
        print(alive_tasks(arg))
    elif cmd == "settled":
        settled(arg, sys.argv[3])
    elif cmd == "report":
        report(Path(arg))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()

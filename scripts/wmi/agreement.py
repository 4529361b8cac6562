#!/usr/bin/env python3
"""How ValidateVin agrees with the reference vPIC decoder (ultravin), on VINs it generates.

Not a test (it needs the pinned package, see requirements.txt): a report for
docs/vin-data.md. It draws VINs from the reference decoder's own generator (real WMIs,
schemas and patterns, deterministic for a seed and a frozen clock), decodes each with the
reference and asks a running vin-service through the `axle` CLI, then prints the
agreement on make, manufacturer, model year and check digit, and the disagreements.

Usage (a vin-service on 127.0.0.1:50051, e.g. from scripts/up.sh; or --vin-service PATH
to start one on a free port):
  /tmp/wmi-venv/bin/python scripts/wmi/agreement.py --axle "$CARGO_TARGET_DIR/release/axle" \
      [--endpoint 127.0.0.1:50051 | --vin-service "$CARGO_TARGET_DIR/release/vin-service"] \
      [--count 2000] [--seed 13] [--cars 1000]
"""
import argparse
import collections
import concurrent.futures
import datetime
import json
import os
import pathlib
import socket
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
AS_OF = "2026-12-01"  # the clock of the generated tables (generate.py)


def make_names():
    """vPIC spelling -> (English, Chinese), from the curated table Axle uses."""
    out = {}
    for line in (ROOT / "crates/domain/data/make_names.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            key, en, zh, _ = line.split("\t")
            out[key] = (en, zh)
    return out


YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"


def norm(s):
    return " ".join((s or "").upper().split())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(binary):
    port = free_port()
    env = dict(os.environ, AXLE_SERVER__LISTEN=f"127.0.0.1:{port}", AXLE_SERVER__METRICS_LISTEN="off")
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    sys.exit("vin-service did not start")


def axle_validate(axle, endpoint, vin):
    # Exit 1 means "invalid VIN", still an answer with JSON on stdout.
    r = subprocess.run([axle, "vin", "validate", vin, "--json", "--endpoint", endpoint],
                       capture_output=True, text=True, timeout=60)
    if r.returncode not in (0, 1) or not r.stdout.strip():
        raise RuntimeError(f"{vin}: axle exited {r.returncode}: {r.stderr.strip()}")
    return json.loads(r.stdout)


def compare(label, vins, refs, answers, names, show):
    known = [(v, ref, a) for v, ref, a in zip(vins, refs, answers)
             if (ref["attributes"].get("Manufacturer Name") or "").strip()]
    c = collections.Counter()
    diffs = collections.defaultdict(collections.Counter)
    for vin, ref, a in known:
        attrs = ref["attributes"]
        ref_make = norm(attrs.get("Make"))
        make = a.get("make") or {}
        en = norm(make.get("name"))
        ref_en = norm(names.get(ref_make, (ref_make, ""))[0])
        if ref_make:
            c["ref_make"] += 1
            if en:
                c["named"] += 1
                if en == ref_en:
                    c["make_agrees"] += 1
                else:
                    diffs["make"][f"{vin[:3]}: Axle {make.get('name')} / vPIC {attrs.get('Make').strip()}"] += 1
                # nameZh is the established Chinese name, or the Latin name flagged
                # nameZhLatin for a brand that has none in use.
                if make.get("nameZh"):
                    c["named_both"] += 1
                    if not make.get("nameZhLatin"):
                        c["named_zh"] += 1
                if ref_make in names:
                    c["china_brand"] += 1
                    c["china_brand_zh"] += bool(make.get("nameZh"))
            else:
                cands = [norm(x.get("name")) for x in make.get("candidates", [])]
                c["open"] += 1
                c["open_contains"] += ref_en in cands
                diffs["open"][f"{vin[:3]} {attrs.get('Make').strip()}"] += 1
        m = a.get("manufacturer") or {}
        c["mfr_named"] += bool(m)
        legal = norm(m.get("legalName") or m.get("name"))
        if legal == norm(attrs.get("Manufacturer Name")):
            c["mfr_agrees"] += 1
        elif m:
            diffs["manufacturer"][f"{vin[:3]}: Axle {m.get('legalName') or m.get('name')} / vPIC {attrs.get('Manufacturer Name')}"] += 1
        year = (a.get("modelYear") or {}).get("year")
        ref_year = ref["model_year"]
        if ref_year:
            c["ref_year"] += 1
            if year == ref_year:
                c["year_agrees"] += 1
            else:
                kind = (a.get("manufacturer") or {}).get("vehicleType", "?")
                north_american = vin[0] in "12345"
                if ref_year > int(AS_OF[:4]) + 1:
                    why = "vPIC's year is beyond next year"
                elif north_american and (ref_year >= 2010) != vin[6].isalpha():
                    # The generator fills position 7 at random; a real North-American
                    # light vehicle's says which 30-year cycle the year is in.
                    why = "position 7 contradicts vPIC's year (49 CFR 565.15)"
                elif year and abs(year - ref_year) == 30:
                    why = f"read by recency ({kind}), vPIC's schema says 30 years apart"
                else:
                    why = f"other ({kind})"
                diffs["model_year"][why] += 1
        cd = (a.get("checkDigit") or {}).get("state")
        axle_ok = cd in ("CHECK_DIGIT_STATE_VALID", "CHECK_DIGIT_STATE_NOT_USED")
        if cd == "CHECK_DIGIT_STATE_NOT_USED":
            c["cd_not_used"] += 1
        c["cd_agrees"] += (cd == "CHECK_DIGIT_STATE_VALID") == bool(ref["check_digit_valid"]) or (
            cd == "CHECK_DIGIT_STATE_NOT_USED")
        c["cd_strict"] += axle_ok == bool(ref["check_digit_valid"])

    pct = lambda a, b: f"{100.0 * a / b:.1f} %" if b else "n/a"
    n = len(known)
    print(f"\n## {label}: {len(vins)} VINs, {n} with a WMI the reference knows\n")
    print("| measure | agreement |")
    print("|---|---|")
    print(f"| make named (of {c['ref_make']} the reference names) | {c['named']} = {pct(c['named'], c['ref_make'])} |")
    print(f"| make named and the same | {c['make_agrees']} = {pct(c['make_agrees'], c['ref_make'])} |")
    print(f"| make open (possible makes listed) | {c['open']}, of which the list holds vPIC's: {c['open_contains']} |")
    print(f"| make named in Chinese script (established name, of {c['ref_make']}) | {c['named_zh']} = {pct(c['named_zh'], c['ref_make'])} |")
    print(f"| make named in both languages (established or flagged Latin, of {c['ref_make']}) | {c['named_both']} = {pct(c['named_both'], c['ref_make'])} |")
    print(f"| make in Chinese, of {c['china_brand']} VINs of brands in the make table | {c['china_brand_zh']} = {pct(c['china_brand_zh'], c['china_brand'])} |")
    print(f"| manufacturer named | {c['mfr_named']} = {pct(c['mfr_named'], n)} |")
    print(f"| manufacturer legal name the same | {c['mfr_agrees']} = {pct(c['mfr_agrees'], n)} |")
    print(f"| model year the same (of {c['ref_year']}) | {c['year_agrees']} = {pct(c['year_agrees'], c['ref_year'])} |")
    print(f"| check digit: same verdict ({c['cd_not_used']} where it is not used outside NA/China) | {c['cd_agrees']} = {pct(c['cd_agrees'], n)} |")
    for what, counter in diffs.items():
        print(f"\n{what} disagreements ({sum(counter.values())}), most frequent first:")
        for k, v in counter.most_common(show):
            print(f"  {v:4d}  {k}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--axle", required=True, help="path of the axle CLI")
    ap.add_argument("--endpoint", default="127.0.0.1:50051")
    ap.add_argument("--vin-service", help="start this vin-service binary on a free port instead")
    ap.add_argument("--count", type=int, default=2000, help="VINs of every vehicle type")
    ap.add_argument("--cars", type=int, default=1000, help="passenger cars and MPVs, apart")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--show", type=int, default=12, help="disagreements shown per kind")
    ap.add_argument("--jobs", type=int, default=8)
    args = ap.parse_args()

    import ultravin

    now = datetime.datetime.fromisoformat(AS_OF).replace(tzinfo=datetime.timezone.utc)
    prov = ultravin.provenance()
    sets = [("Every vehicle type", ultravin.generate(args.count, seed=args.seed, now=now))]
    if args.cars:
        half = args.cars // 2
        sets.append(("Passenger cars and MPVs", ultravin.generate(half, seed=args.seed, now=now, vehicle_type=2)
                     + ultravin.generate(args.cars - half, seed=args.seed, now=now, vehicle_type=7)))
    proc = None
    endpoint = args.endpoint
    if args.vin_service:
        proc, endpoint = start_service(args.vin_service)
    try:
        print(f"# ValidateVin vs ultravin {ultravin.__version__} (vPIC {prov['data_month']}), clock {AS_OF}, seed {args.seed}")
        names = make_names()
        for label, vins in sets:
            refs = json.loads(ultravin.decode_batch_json(vins, now=now))
            with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
                answers = list(pool.map(lambda v: axle_validate(args.axle, endpoint, v), vins))
            compare(label, vins, refs, answers, names, args.show)
    finally:
        if proc:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()

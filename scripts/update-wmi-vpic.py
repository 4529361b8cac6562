#!/usr/bin/env python3
"""Refresh crates/domain/data/wmi_vpic.tsv from NHTSA vPIC.

Needs network access to the vPIC API (not available on the CI machines): run it on a
workstation, review the diff, commit the data file. Rows already in the file that vPIC
does not list are kept (they come from the ISO 3780 register extracts), vPIC rows win
for the WMIs it lists, and the other tables (wmi_world.tsv, wmi_china.tsv) are left
alone. Columns: WMI, name, Chinese name, vehicle type, legal name, date available.

Usage: scripts/update-wmi-vpic.py [--limit N]
"""
import argparse
import datetime
import json
import pathlib
import sys
import time
import urllib.request

API = "https://vpic.nhtsa.dot.gov/api/vehicles"
DATA = pathlib.Path(__file__).resolve().parent.parent / "crates/domain/data/wmi_vpic.tsv"


def get(path):
    with urllib.request.urlopen(f"{API}/{path}?format=json", timeout=60) as r:
        return json.load(r)["Results"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0, help="stop after N manufacturers (testing)")
    args = ap.parse_args()

    header, rows = [], {}
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            header.append(line)
            continue
        cols = line.split("\t")
        rows[cols[0]] = cols + [""] * (6 - len(cols))

    seen = 0
    for page in range(1, 1000):
        makers = get(f"GetAllManufacturers?page={page}")
        if not makers:
            break
        for m in makers:
            for w in get(f"GetWMIsForManufacturer/{m['Mfr_ID']}"):
                wmi = (w.get("WMI") or "").strip().upper()
                if len(wmi) not in (3, 6):
                    continue
                old = rows.get(wmi, [wmi, "", "", "", "", ""])
                rows[wmi] = [
                    wmi,
                    (w.get("Name") or m["Mfr_Name"]).strip(),
                    old[2],
                    (w.get("VehicleType") or "").strip(),
                    (m.get("Mfr_Name") or "").strip(),
                    (w.get("DateAvailableToPublic") or old[5] or "")[:10],
                ]
            seen += 1
            if args.limit and seen >= args.limit:
                break
            time.sleep(0.05)
        if args.limit and seen >= args.limit:
            break

    today = datetime.date.today().isoformat()
    header = [h for h in header if not h.startswith("# vPIC refresh:")]
    header.append(f"# vPIC refresh: {today}, {seen} manufacturers read from {API}")
    body = ["\t".join(r).rstrip("\t") for _, r in sorted(rows.items())]
    DATA.write_text("\n".join(header + body) + "\n", encoding="utf-8")
    print(f"{len(rows)} WMIs written to {DATA}", file=sys.stderr)


if __name__ == "__main__":
    main()

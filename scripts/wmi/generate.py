#!/usr/bin/env python3
"""Generate the NHTSA vPIC WMI register for crates/domain from a pinned offline copy of vPIC.

The source is the PyPI package `ultravin` (pinned with its hash in requirements.txt), which
embeds the complete vPIC standalone database of one monthly release and decodes offline.
Run by hand, never at build or run time; the generated files are committed:

  crates/domain/data/wmi_vpic.tsv      one row per WMI vPIC lists (every vehicle type, and
                                       the 6-character keys of "xx9" small makers):
                                       WMI, legal name, short name, makes, type, release
  crates/domain/data/wmi_vpic_vds.tsv  for WMIs that carry several makes: which VDS pattern
                                       (vPIC's own pattern keys) decides which make

Usage:
  python3 -m venv /tmp/wmi-venv
  /tmp/wmi-venv/bin/pip install --no-deps --require-hashes -r scripts/wmi/requirements.txt
  /tmp/wmi-venv/bin/python scripts/wmi/generate.py           # rewrite the two files
  /tmp/wmi-venv/bin/python scripts/wmi/generate.py --check   # exit 1 if they differ

How the facts are read (ultravin has no table API, so the register is read by decoding):
- `sweep(["wmi"])` yields one VIN per row of vPIC's Wmi table; decoding it gives the
  manufacturer's legal name (vPIC Manufacturer.Name) and the WMI's vehicle type.
- `sweep(["wmi", "pattern"])` yields one VIN per decoding pattern, under one of the WMIs
  whose schemas use it, and `generate(wmi=...)` draws VINs from each WMI's own schemas;
  the makes a WMI's VINs decode to (over all of them) are its makes.
- For a WMI with several makes, the pattern that set the make (element "Make", source
  "pattern - model", its `keys`) is kept with that make: at run time the VIN is matched
  against those keys, and where the matches disagree the model years each key was seen
  on decide, else the possible makes are listed.
The decode clock is frozen (--as-of) so that a rerun on another day gives the same file:
vPIC withholds WMIs whose public-availability date is later.
"""
import argparse
import collections
import datetime
import json
import pathlib
import re
import sys
import zlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "crates/domain/data"
REGISTER = DATA / "wmi_vpic.tsv"
VDS = DATA / "wmi_vpic_vds.tsv"
PINNED = "3.0.2"
# The clock the files were generated with; change it (and regenerate) with a new release.
AS_OF = "2026-12-01"
# VINs drawn per WMI beyond the sweep (see build()).
PER_WMI = 40

# vPIC's vehicle-type names -> the vocabulary crates/domain uses (model_year.rs reads
# "bus", "trailer", "motorcycle", "incomplete", "low speed", "off road" in them).
TYPES = {
    "PASSENGER CAR": "Passenger Car",
    "MULTIPURPOSE PASSENGER VEHICLE (MPV)": "MPV",
    "TRUCK": "Truck",
    "TRUCK ": "Truck",
    "BUS": "Bus",
    "TRAILER": "Trailer",
    "MOTORCYCLE": "Motorcycle",
    "INCOMPLETE VEHICLE": "Incomplete Vehicle",
    "LOW SPEED VEHICLE (LSV)": "Low Speed Vehicle",
    "OFF ROAD VEHICLE": "Off Road Vehicle",
    "OFF-ROAD VEHICLE": "Off Road Vehicle",
}

# Legal-form words dropped from the end of a legal name to make the short name.
LEGAL_FORMS = {
    "AB", "AG", "AS", "A/S", "BV", "B.V.", "CO", "CO.", "COMPANY", "CORP", "CORP.",
    "CORPORATION", "GMBH", "INC", "INC.", "INCORPORATED", "KG", "LLC", "L.L.C.", "LP", "LTD",
    "LTD.", "LIMITED", "NV", "N.V.", "PLC", "PTY", "S.A.", "SA", "S.A", "S.P.A.", "SPA",
    "S.R.L.", "SRL", "S.A.S.", "SAS", "S.L.", "SE", "AND", "&", "DE", "C.V.", "CV", "S.A.B.",
    "SA DE CV", "S. DE R.L.", "R.L.", "OY", "ULC", "KFT", "KFT.", "D.O.O.", "A.S.", "LLP",
}
# Words kept in capitals in short names (otherwise title case).
ACRONYMS = {"BMW", "GM", "FCA", "US", "USA", "KTM", "MV", "AM", "RV", "II", "III", "LSV",
            "UD", "BYD", "GMC", "DAF", "MAN", "NV", "MCI", "ZF", "CNH", "JLG", "BRP", "ATV"}


def short_name(legal):
    """The legal name without its legal form, in title case: "AMERICAN HONDA MOTOR CO.,
    INC." -> "American Honda Motor"."""
    words = legal.replace(",", " ").split()
    while len(words) > 1 and words[-1].upper() in LEGAL_FORMS:
        words.pop()
    out = []
    for i, w in enumerate(words):
        bare = w.strip(".()").upper()
        out.append(w.upper() if bare in ACRONYMS else titled(w, i == 0))
    return " ".join(out)


SMALL_WORDS = {"OF", "AND", "THE", "DE", "DEL", "DI", "DU", "FOR"}


def titled(word, first):
    # "MERCEDES-BENZ" -> "Mercedes-Benz", "ODOM'S" -> "Odom's"; digits stay; "of" small.
    if not first and word.upper() in SMALL_WORDS:
        return word.lower()
    return re.sub(r"[A-Za-z][A-Za-z']*", lambda m: m.group(0)[0].upper() + m.group(0)[1:].lower(), word)


def key_of(vin):
    """The WMI a VIN is registered under: 3 characters, 6 for a small maker (xx9)."""
    return vin[:3] + vin[11:14] if vin[2] == "9" else vin[:3]


KEY_SYNTAX = re.compile(r"^(\*|[A-Z0-9]|\[[A-Z0-9\-]+\])*(\|(\*|[A-Z0-9]|\[[A-Z0-9\-]+\])*)?$")


def build(as_of):
    import ultravin  # imported here so that --help works without it

    if ultravin.__version__ != PINNED:
        sys.exit(f"ultravin {ultravin.__version__} installed, {PINNED} pinned: see requirements.txt")
    prov = ultravin.provenance()
    release = f"vPIC {prov['data_month'].replace('_', '-')}"
    now = datetime.datetime.fromisoformat(as_of).replace(tzinfo=datetime.timezone.utc)

    def decode(vins, full):
        # In chunks, as a stream: ~2M decodes do not fit in memory at once.
        for i in range(0, len(vins), 5000):
            yield from json.loads(ultravin.decode_batch_json(vins[i : i + 5000], full=full, now=now))

    register = {}
    for r in decode(ultravin.sweep(["wmi"]), full=True):
        el = {e["variable"]: e["value"] for e in r["elements"] if e["value"]}
        wmi = r["wmi"]
        legal = el.get("Manufacturer Name", "").strip()
        vtype = el.get("Vehicle Type", "").strip()
        if not legal:
            continue
        if vtype not in TYPES:
            sys.exit(f"{wmi}: unknown vehicle type {vtype!r}: add it to TYPES")
        register[wmi] = {
            "legal": legal,
            "type": TYPES[vtype],
            "makes": collections.Counter(),
        }

    # One VIN per WMI and pattern. (Adding the reference's covering corpus, seeded(),
    # 1.8M VINs, was tried: 9 minutes and 1.9 GB for the same makes on cars and MPVs.)
    sweep = ultravin.sweep(["wmi", "pattern"])
    for r in decode(sweep, full=False):
        e = register.get(r["wmi"])
        if e is None:
            continue
        make = (r["attributes"].get("Make") or "").strip()
        if make:
            if "|" in make:
                sys.exit(f"{r['wmi']}: make {make!r} contains the separator")
            e["makes"][make] += 1

    # The sweep yields each pattern once, under one of the WMIs whose schemas share it, so a
    # WMI whose schemas are shared gets few or none of its makes (SJK: none, 1LN: Lincoln
    # only, though vPIC decodes some 1LN VINs to Ford). Hence also VINs drawn from each
    # WMI's own schemas: for every WMI but trailers' (one maker, one make, own schemas) and
    # for every WMI still without a make. Seeded by the WMI, so reruns give the same file.
    drawn = []
    for wmi in sorted(register):
        e = register[wmi]
        if len(wmi) == 3 and (e["type"] != "Trailer" or not e["makes"]):
            seed = zlib.crc32(wmi.encode())
            drawn += ultravin.generate(PER_WMI, seed=seed, wmi=wmi, now=now)
    for r in decode(drawn, full=False):
        e = register.get(r["wmi"])
        make = (r["attributes"].get("Make") or "").strip()
        if e is not None and make:
            if "|" in make:
                sys.exit(f"{r['wmi']}: make {make!r} contains the separator")
            e["makes"][make] += 1

    multi = {w for w, e in register.items() if len(e["makes"]) > 1}
    # (WMI, key, make) -> the model years of the VINs decoded through it. vPIC's patterns
    # belong to schemas that cover a range of model years, and one WMI's schemas reuse VDS
    # codes for other makes in other years (1LN: Lincoln, Ford, Mercury); the years seen
    # let the matcher break such ties. They are a sample: the range seen can be narrower
    # than the schema's, never wider.
    rules = {}
    for r in decode([v for v in sweep + drawn if key_of(v) in multi], full=True):
        for e in r["elements"]:
            if e["variable"] == "Make" and e["value"] and e["source"].startswith("pattern"):
                keys = e["keys"].strip().upper()
                if not KEY_SYNTAX.match(keys):
                    sys.exit(f"{r['wmi']}: pattern key {keys!r} has a syntax the matcher lacks")
                years = rules.setdefault((r["wmi"], keys, e["value"].strip()), set())
                if r.get("model_year"):
                    years.add(int(r["model_year"]))

    header = [
        f"# Generated by scripts/wmi/generate.py from ultravin {PINNED} (PyPI, hash-pinned in",
        "# scripts/wmi/requirements.txt), which embeds the NHTSA vPIC standalone database",
        f"# release {prov['data_month']} (artifact blake3 {prov['artifact_blake3']}),",
        f"# decoded offline as of {as_of}. Do not edit by hand: rerun the script.",
    ]
    reg_lines = header + [
        "# Columns: WMI<TAB>manufacturer legal name (vPIC)<TAB>short name (legal form dropped)",
        "#          <TAB>makes (vPIC spelling, most VINs first, '|'-separated; empty: none)",
        "#          <TAB>vehicle type<TAB>vPIC release",
        "# A 6-character WMI is positions 1-3 + 12-14 of a small maker's VIN (third character 9).",
        "# Makes: every make the WMI's VINs decode to in vPIC; with several, wmi_vpic_vds.tsv",
        "# says which VDS patterns decide.",
    ]
    for wmi in sorted(register):
        e = register[wmi]
        makes = "|".join(m for m, _ in sorted(e["makes"].items(), key=lambda kv: (-kv[1], kv[0])))
        row = [wmi, e["legal"], short_name(e["legal"]), makes, e["type"], release]
        reg_lines.append("\t".join(row))
    vds_lines = header + [
        "# Columns: WMI<TAB>pattern key<TAB>make<TAB>first<TAB>last model year seen (empty: none).",
        "# Only WMIs with several makes. The key is vPIC's: matched from position 4 ('*' any",
        "# character, [..] a class with ranges); after '|' it continues at position 10. Where",
        "# the most specific matching keys name different makes (vPIC's patterns also depend on",
        "# the model year), the keys whose years include the VIN's decide; else the make is open.",
    ]
    for (wmi, keys, make), years in sorted(rules.items()):
        first, last = (str(min(years)), str(max(years))) if years else ("", "")
        vds_lines.append(f"{wmi}\t{keys}\t{make}\t{first}\t{last}")
    return "\n".join(reg_lines) + "\n", "\n".join(vds_lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare with the committed files, write nothing")
    ap.add_argument("--as-of", default=AS_OF, help=f"decode clock, ISO date (default {AS_OF})")
    args = ap.parse_args()
    reg, vds = build(args.as_of)
    if args.check:
        stale = [p.name for p, text in ((REGISTER, reg), (VDS, vds)) if p.read_text(encoding="utf-8") != text]
        if stale:
            print(f"stale: {', '.join(stale)}; rerun scripts/wmi/generate.py", file=sys.stderr)
            sys.exit(1)
        print("WMI register up to date", file=sys.stderr)
        return
    REGISTER.write_text(reg, encoding="utf-8")
    VDS.write_text(vds, encoding="utf-8")
    print(f"{reg.count(chr(10))} lines -> {REGISTER}\n{vds.count(chr(10))} lines -> {VDS}", file=sys.stderr)


if __name__ == "__main__":
    main()

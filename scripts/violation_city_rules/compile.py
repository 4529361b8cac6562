#!/usr/bin/env python3
"""Compile crates/domain/data/violation_city_rules.tsv from the source extracts beside this
script and the plate-authority table.

Every issuing authority (province + letter) of crates/domain/data/plate_authorities.tsv gets
one row: what a traffic-violation query for its plates needs (engine number, VIN), merged
from every source that covers it, the stricter requirement winning where they disagree, and
the national 交管 floor (the last 6 of the VIN) applied on top. An authority no source covers
gets the default row (both numbers in full), labelled "default". Nothing here invents a
value: every requirement is a source's, the floor's or the default's, and says which.

Usage: python3 scripts/violation_city_rules/compile.py [--check]
  --check  exit 1 when the checked-in table differs from what the sources compile to.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
AUTHORITIES = ROOT / "crates/domain/data/plate_authorities.tsv"
OUT = ROOT / "crates/domain/data/violation_city_rules.tsv"

VERSION = "2026-12-02"

# id, name, date or version, where it was read. The ids are what rows cite.
SOURCES = [
    ("cx580",
     "车行易 (cx580.com) violation-query form, InputsCondition table (CarEngineLen / CarCodeLen per plate prefix)",
     "undated, 2015 or later",
     "public code index file id 25107655127; extract scripts/violation_city_rules/sources/cx580_inputs_condition.tsv"),
    ("juhe2019",
     "聚合数据 (juhe.cn) 违章查询 GET /wz/citys (engine/engineno/class/classno per query city)",
     "2019-04-03",
     "public code index file id 2193453097; extract scripts/violation_city_rules/sources/juhe_wz_citys_2019-04-03.tsv"),
    ("gat12123",
     "公安交管 practice (交管12123 and the traffic-police vehicle query): 号牌种类 + 号牌号码 + 车辆识别代号后六位",
     "2016 or later (national 12123 rollout)",
     "public code index file ids 36670420503, 49100884006, 15151691166"),
]

NONE, FULL = 0, 1000  # ordering: not required < last n < whole number


def label(req):
    if req == NONE:
        return "-"
    if req == FULL:
        return "full"
    return str(req)


def words(req):
    if req == NONE:
        return "not asked"
    if req == FULL:
        return "whole"
    return f"last {req}"


def rows(path):
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            yield line.split("\t")


def load_authorities():
    out = []
    for cols in rows(AUTHORITIES):
        out.append((cols[0], cols[1], cols[3]))
    return out


def cx580_len(raw):
    n = int(raw)
    if n == 0:
        return NONE
    if n == 99:
        return FULL
    if not 1 <= n <= 17:
        raise ValueError(f"cx580 length {raw}")
    return n


def juhe_req(flag, n):
    if flag == "0":
        return NONE
    if flag != "1":
        raise ValueError(f"juhe flag {flag}")
    n = int(n)
    return FULL if n == 0 else n


def spread(entries, prefixes):
    """{prefix: (engine, vin)} from {key: value}, a one-character key (a province) standing
    for every letter of the province that has no row of its own in the same source."""
    out = {}
    for key, value in entries.items():
        if len(key) == 2:
            out[key] = value
    for key, value in entries.items():
        if len(key) == 1:
            for p in prefixes:
                if p[0] == key and p not in out:
                    out[p] = value
    return out


def load_cx580(prefixes):
    entries = {}
    for cols in rows(HERE / "sources/cx580_inputs_condition.tsv"):
        prefix, _city_id, code_len, engine_len = cols
        if prefix in entries:
            raise ValueError(f"cx580 duplicate {prefix}")
        entries[prefix] = (cx580_len(engine_len), cx580_len(code_len))
    return spread(entries, prefixes)


def load_juhe(prefixes):
    entries = {}
    for cols in rows(HERE / "sources/juhe_wz_citys_2019-04-03.tsv"):
        _name, targets, engine, engineno, klass, classno = cols
        value = (juhe_req(engine, engineno), juhe_req(klass, classno))
        for t in targets.split(","):
            if t in entries and entries[t] != value:
                raise ValueError(f"juhe conflicting rows for {t}")
            entries[t] = value
    return spread(entries, prefixes)


def compile_rows():
    authorities = load_authorities()
    prefixes = [a[0] for a in authorities]
    known = set(prefixes)
    per_source = [("cx580", load_cx580(prefixes)), ("juhe2019", load_juhe(prefixes))]
    # A source row for a letter that issues no plates today (冀S, the former 沧州行署) has no
    # row to go to: it is listed in the table's header, never silently lost.
    unmatched = []
    for sid, table in per_source:
        for p in sorted(set(table) - known):
            unmatched.append(f"{sid} {p}")
            del table[p]
    out = []
    for prefix, city, code in authorities:
        seen = [(sid, table[prefix]) for sid, table in per_source if prefix in table]
        if not seen:
            out.append([prefix, city, code, "*", "full", "full", "both", "default", "-",
                        "no source covers this authority: the default asks for both numbers in full"])
            continue
        engine = max(v[0] for _, v in seen)
        vin = max(v[1] for _, v in seen)
        cited = [sid for sid, _ in seen]
        notes = []
        for name, idx in (("engine number", 0), ("VIN", 1)):
            values = {sid: v[idx] for sid, v in seen}
            if len(set(values.values())) > 1:
                told = ", ".join(f"{sid} {words(v)}" for sid, v in values.items())
                notes.append(f"{name}: {told}; the stricter kept")
        if vin != FULL and vin < 6:
            notes.append(f"VIN raised from {words(vin)} to the national last 6")
            vin = 6
            cited.append("gat12123")
        out.append([prefix, city, code, "*", label(engine), label(vin), "both", "sourced",
                    ",".join(cited), "; ".join(notes) if notes else "-"])
    return out, unmatched


def render(table, unmatched):
    lines = [
        "# Per-city traffic-violation query requirements: what a query for plates of each issuing",
        "# authority (province + letter) needs besides the plate. GENERATED by",
        "# scripts/violation_city_rules/compile.py from the source extracts beside it and",
        "# plate_authorities.tsv: edit those and rerun, never this file. docs/violation-city-rules.md",
        "# says how it was compiled and how to override it without a rebuild.",
        "#",
        "# @version: the table's version (the date it was compiled).",
        "# @source: id, name, date or version of what it says, where it was read.",
        "# Rows: prefix, city, GB/T 2260 code, plate types (* = every type, or 号牌种类 codes",
        "# separated by commas), engine number, VIN, both|either, sourced|default, source ids, note.",
        "# A requirement is - (not asked), n (the last n characters) or full (the whole number).",
        "# Merging: the stricter requirement of the sources wins; the VIN is asked at least by its",
        "# last 6 (gat12123); an authority no source covers gets the default: both numbers in full.",
        "# Source rows for letters that issue no plates today (left out): "
        + (", ".join(unmatched) if unmatched else "none") + ".",
        f"@version\t{VERSION}",
    ]
    for s in SOURCES:
        lines.append("@source\t" + "\t".join(s))
    for row in table:
        lines.append("\t".join(row))
    return "\n".join(lines) + "\n"


def main():
    text = render(*compile_rows())
    if "--check" in sys.argv[1:]:
        if OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is stale: run {Path(__file__).relative_to(ROOT)}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

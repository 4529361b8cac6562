#!/usr/bin/env bash
# Coverage-guided fuzzing of everything Axle reads from outside (fuzz/: the targets are
# listed in fuzz/src/lib.rs), with cargo-fuzz and libFuzzer on the stable toolchain.
#
#   scripts/fuzz.sh smoke [SECONDS]          every target for SECONDS (default 5) from its
#                                            seeds, new inputs kept in a throwaway corpus;
#                                            a step of scripts/test.sh
#   scripts/fuzz.sh run DURATION [TARGET...] the long run: each target (default: all) for
#                                            DURATION (90s, 10m, 1h), one after the other,
#                                            growing fuzz/corpus/<target> (not in git)
#   scripts/fuzz.sh list                     the targets
#
# Every run prints, per target, the executions, executions per second, the coverage
# libFuzzer measured (`cov`: edges, `ft`: features) and the corpus size, and exits non-zero
# when a target failed: the input is then in fuzz/artifacts/<target>/, and
#   cargo fuzz run --dev --sanitizer none --features libfuzzer TARGET fuzz/artifacts/TARGET/<file>
# replays it (with CARGO_PROFILE_DEV_OPT_LEVEL=1, as below, to reuse this build).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/fuzz-tools.sh

# One build for every target and both kinds of run. `--dev` (with opt-level 1 for the
# whole tree, set here) rather than cargo-fuzz's default release build: the targets
# depend on the services' crates, and the release profile's single codegen unit per crate
# makes a cold build several times longer for a speed the seconds-long smoke run does
# not need. `--sanitizer none`: the sanitizers need nightly; Rust's own checks (bounds,
# overflow, debug assertions) still turn memory and arithmetic errors into panics.
BUILD=(--dev --sanitizer none --features libfuzzer)
export CARGO_PROFILE_DEV_OPT_LEVEL=1
triple="$(rustc -vV | sed -n 's/^host: //p')"
bin_dir="$CARGO_TARGET_DIR/$triple/debug"

targets() { cargo fuzz list; }

seconds_of() {
  case "$1" in
    *h) echo $(( ${1%h} * 3600 )) ;;
    *m) echo $(( ${1%m} * 60 )) ;;
    *s) echo "${1%s}" ;;
    *[!0-9]*|"") echo "fuzz: duration $1 is not a number of seconds, minutes or hours (90s, 10m, 1h)" >&2; exit 2 ;;
    *) echo "$1" ;;
  esac
}

# run_target NAME SECONDS CORPUS: fuzzes NAME for SECONDS, new inputs into CORPUS, reading
# its seeds too; prints one summary line; returns non-zero if the target failed.
run_target() {
  local name="$1" secs="$2" corpus="$3" log status=0
  mkdir -p "$corpus" "fuzz/artifacts/$name"
  log="$(mktemp)"
  # -timeout: an input that takes 10 s is a finding (a hang), not a slow machine.
  "$bin_dir/$name" "$corpus" "fuzz/seeds/$name" \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="fuzz/artifacts/$name/" >"$log" 2>&1 || status=$?
  local done_line execs rate
  done_line="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  if [ "$status" -ne 0 ]; then
    printf '%-16s FAILED (exit %s); the input is in fuzz/artifacts/%s/\n' "$name" "$status" "$name"
    grep -E -A3 'panicked at' "$log" | head -12 | sed 's/^/    /'
    grep -E 'ERROR: libFuzzer|Test unit written' "$log" | head -4 | sed 's/^/    /'
  else
    printf '%-16s %10s execs %8s/s  %s\n' "$name" "${execs:-?}" "${rate:-?}" \
      "$(echo "$done_line" | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9a-zA-Z]+' || echo '?')"
  fi
  rm -f "$log"
  return "$status"
}

mode="${1:-smoke}"
case "$mode" in
  list) targets; exit 0 ;;
  smoke) secs="${2:-5}"; shift $(( $# > 1 ? 2 : $# )); selected=() ;;
  run)
    [ $# -ge 2 ] || { echo "usage: scripts/fuzz.sh run DURATION [TARGET...]" >&2; exit 2; }
    secs="$(seconds_of "$2")"; shift 2; selected=("$@") ;;
  *) echo "usage: scripts/fuzz.sh smoke [SECONDS] | run DURATION [TARGET...] | list" >&2; exit 2 ;;
esac
[ "${#selected[@]}" -gt 0 ] || mapfile -t selected < <(targets)

started=$SECONDS
cargo fuzz build "${BUILD[@]}"
echo "fuzz: built ${#selected[@]} targets in $(( SECONDS - started )) s; ${secs} s each"

if [ "$mode" = smoke ]; then
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
fi
failed=()
for name in "${selected[@]}"; do
  if [ "$mode" = smoke ]; then corpus="$scratch/$name"; else corpus="fuzz/corpus/$name"; fi
  run_target "$name" "$secs" "$corpus" || failed+=("$name")
done
echo "fuzz: ${#selected[@]} targets, $(( SECONDS - started )) s in all"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi

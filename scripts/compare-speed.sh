#!/usr/bin/env bash
# Compare two storypack builds on one plan in one run, as ratios: the median wall time of
# interleaved runs (before, after, before, ...) of a command, and, when valgrind is
# installed, the instructions each executes (callgrind), which do not drift with the load
# of a shared machine.
#
#   scripts/compare-speed.sh BEFORE AFTER PLAN [ROUNDS [-- ARGS...]]
#   (ARGS default to `lint`; the plan is passed with --plan)
set -euo pipefail
before=$(realpath "$1")
after=$(realpath "$2")
plan=$(realpath "$3")
rounds=${4:-9}
shift $(($# < 4 ? $# : 4))
[[ ${1:-} == -- ]] && shift
args=("${@:-lint}")
[[ $# -eq 0 ]] && args=(lint)

python3 - "$before" "$after" "$plan" "$rounds" "${args[@]}" <<'PY'
import statistics, subprocess, sys, time
before, after, plan, rounds, *args = sys.argv[1:]
times = {"before": [], "after": []}
for _ in range(int(rounds)):
    for name, binary in (("before", before), ("after", after)):
        t = time.perf_counter()
        subprocess.run([binary, *args, "--plan", plan], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        times[name].append((time.perf_counter() - t) * 1000)
for name, v in times.items():
    print(f"{name:6} wall ms: median {statistics.median(v):.0f}, min {min(v):.0f}, max {max(v):.0f}")
print(f"ratio after/before: median {statistics.median(times['after']) / statistics.median(times['before']):.3f}, "
      f"min {min(times['after']) / min(times['before']):.3f}")
PY

if command -v valgrind >/dev/null; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  for name in before after; do
    bin=$before
    [[ $name == after ]] && bin=$after
    valgrind --tool=callgrind --callgrind-out-file="$tmp/$name.out" \
      "$bin" "${args[@]}" --plan "$plan" >/dev/null 2>"$tmp/$name.log" || true
    grep -o 'Collected : [0-9]*' "$tmp/$name.log" | awk -v n="$name" '{print n, $3}' >>"$tmp/ir"
  done
  awk '{ir[$1]=$2} END {printf "instructions: before %.3f G, after %.3f G, ratio %.3f\n",
       ir["before"]/1e9, ir["after"]/1e9, ir["after"]/ir["before"]}' "$tmp/ir"
fi

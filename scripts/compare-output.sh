#!/usr/bin/env bash
# Dump everything a user sees of a plan through the CLI into one folder, so two builds can be
# compared byte for byte (`diff -r`): every story's pack (Markdown and JSON) at budgets 300,
# 2,000 and 8,000, lint, sprints, stories, priorities, search and every sprint's gate.
#
#   scripts/compare-output.sh BINARY OUT_DIR [PLAN]      (PLAN defaults to examples/plan)
#   diff -r before/ after/
set -euo pipefail
bin=$(realpath "$1")
out=$2
plan=$(realpath "${3:-examples/plan}")
today=${TODAY:-2026-03-04}
rm -rf "$out"
mkdir -p "$out/packs" "$out/gates" "$out/priorities"
packs=$(mktemp -d)
trap 'rm -rf "$packs"' EXIT

run() { # name, args...: stdout, stderr and the exit code of one command
  local name=$1
  shift
  local rc=0
  "$bin" "$@" --plan "$plan" >"$out/$name.out" 2>"$out/$name.err" || rc=$?
  echo "$rc" >"$out/$name.rc"
  # The packs' folder is a new temporary one each run.
  sed -i "s|$packs|PACKS|g" "$out/$name.out" "$out/$name.err"
}

run lint lint
run lint-json lint --json
run sprints sprints
run sprints-json sprints --json
run stories stories
run stories-json stories --json
run priorities/default priorities --today "$today"
run search search "worker runtime settings" --limit 20
sprints=$("$bin" sprints --json --plan "$plan" | python3 -c \
  'import json,sys; print(" ".join(s["id"] for s in json.load(sys.stdin)["sprints"]))')
for s in $sprints; do
  run "priorities/$s" priorities --sprint "$s" --today "$today"
  run "priorities/$s-json" priorities --sprint "$s" --today "$today" --json
  run "gates/$s" gate "$s" --today "$today"
  run "gates/$s-json" gate "$s" --today "$today" --json
done
stories=$("$bin" stories --json --plan "$plan" | python3 -c \
  'import json,sys; print(" ".join(s["id"] for s in json.load(sys.stdin)["stories"]))')
for id in $stories; do
  for budget in 300 2000 8000; do
    run "packs/$id-$budget" pack "$id" --budget "$budget" --out "$packs"
    run "packs/$id-$budget-json" pack "$id" --budget "$budget" --out "$packs" --json
  done
done
echo "$(find "$out" -type f | wc -l) files in $out"

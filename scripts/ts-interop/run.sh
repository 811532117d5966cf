#!/usr/bin/env bash
# Interop test: the official TypeScript MCP SDK (npm @modelcontextprotocol/sdk 1.32.2) lists and
# calls every storypack tool over stdio and streamable HTTP against examples/plan, and the MCP
# Inspector CLI (npm @modelcontextprotocol/inspector 2.12.0) checks the tool schemas with
# `--cli --strict --method tools/list` (see test_interop.mjs). Both are pinned exactly in
# package.json, every dependency in package-lock.json.
#
# Installs the packages with `npm ci --ignore-scripts` into <target>/ts-interop (<target>:
# cargo's target directory, from scripts/target-dir.sh) unless it already holds this lock file
# installed by this node version; builds <target>/debug/storypack if it is missing; runs the
# test with node. The last line printed is `N passed, M failed`; the exit code is non-zero
# unless every check passed.
#
# Environment: STORYPACK_BIN (default <target>/debug/storypack), TS_INTEROP_TIMEOUT (seconds for
# the test itself, default 240), TS_INTEROP_VERBOSE=1 (servers' stderr even on success).
set -uo pipefail
cd "$(dirname "$0")/../.."

say() { echo "ts-interop: $*"; }
summary_fallback() {
    echo "ts-interop: $1" >&2
    echo "0 passed, 1 failed"
    exit 1
}

echo "== ts-interop: TypeScript MCP SDK and MCP Inspector against storypack serve"
command -v node >/dev/null && command -v npm >/dev/null \
    || summary_fallback "needs node and npm on PATH (scripts/ci-deps.sh installs them)"
target_dir="$(bash scripts/target-dir.sh)" || summary_fallback "cargo metadata could not name the target directory"

prefix="$target_dir/ts-interop"
src="scripts/ts-interop"
stamp="$prefix/.storypack-ts-interop-stamp"
sha() { sha256sum "$@" | cut -d' ' -f1 | tr '\n' ' '; }
want_stamp="$(sha "$src/package.json" "$src/package-lock.json")node-$(node --version)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want_stamp" && -d "$prefix/node_modules" ]]; then
    say "up to date: $prefix holds $src/package-lock.json; nothing to install"
else
    start=$SECONDS
    mkdir -p "$prefix" || summary_fallback "cannot create $prefix"
    cp "$src/package.json" "$src/package-lock.json" "$prefix/" || summary_fallback "cannot copy to $prefix"
    rm -f "$stamp"
    # --ignore-scripts: neither package needs an install script (the Inspector's postinstall
    # only matters in its own source checkout). The Inspector asks for node >= 22.19 in its
    # `engines`; its CLI works on node 20, so npm's EBADENGINE warnings are filtered out.
    say "npm ci --ignore-scripts into $prefix"
    (cd "$prefix" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) \
        || summary_fallback "npm ci in $prefix failed (is the npm registry reachable?)"
    echo "$want_stamp" >"$stamp"
    say "installed in $((SECONDS - start)) s"
fi

export STORYPACK_BIN="${STORYPACK_BIN:-$target_dir/debug/storypack}"
if [[ ! -x "$STORYPACK_BIN" ]]; then
    say "$STORYPACK_BIN is missing; cargo build --quiet --bin storypack"
    cargo build --quiet --bin storypack || summary_fallback "cargo build failed"
    [[ -x "$STORYPACK_BIN" ]] || summary_fallback "no $STORYPACK_BIN after cargo build"
fi

summary_file="$(mktemp)"
trap 'rm -f "$summary_file"' EXIT
export TS_INTEROP_SUMMARY="$summary_file" TS_INTEROP_PREFIX="$prefix"
# The test prints the summary line itself; if it could not (killed, crashed on import), the
# summary file stays empty and the line is printed here instead.
limit=()
if command -v timeout >/dev/null; then
    limit=(timeout --kill-after=10 "${TS_INTEROP_TIMEOUT:-240}")
fi
"${limit[@]}" node "$src/test_interop.mjs"
status=$?

summary="$(cat "$summary_file")"
if [[ -z "$summary" ]]; then
    if [[ $status -eq 124 || $status -eq 137 ]]; then
        summary_fallback "the test did not finish within ${TS_INTEROP_TIMEOUT:-240} s"
    fi
    summary_fallback "the test exited with status $status before reporting"
fi
if [[ $status -ne 0 ]]; then
    exit "$status"
fi
if [[ ! "$summary" =~ ^[1-9][0-9]*\ passed,\ 0\ failed$ ]]; then
    exit 1
fi
exit 0

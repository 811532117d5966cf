#!/usr/bin/env bash
# Interop test: the official Python MCP SDK (mcp 2.3.0) lists and calls every storypack tool
# over stdio and streamable HTTP against examples/plan (see test_interop.py).
#
# Sets up <target>/interop-venv (setup.sh), builds <target>/debug/storypack if it is missing
# (<target> is cargo's target directory, wherever CARGO_TARGET_DIR or a cargo config puts it),
# runs the test with the venv's python. The last line printed is `N passed, M failed`; the
# exit code is non-zero unless every check passed.
#
# Environment: STORYPACK_BIN (default <target>/debug/storypack), INTEROP_TIMEOUT (seconds for
# the test itself, default 180), INTEROP_VERBOSE=1 (servers' stderr even on success).
set -uo pipefail
cd "$(dirname "$0")/../.."

summary_fallback() {
    echo "interop: $1" >&2
    echo "0 passed, 1 failed"
    exit 1
}

echo "== interop: python MCP SDK against storypack serve (stdio and HTTP)"
target_dir="$(bash scripts/target-dir.sh)" || summary_fallback "cargo metadata could not name the target directory"
bash scripts/interop/setup.sh || summary_fallback "setting up $target_dir/interop-venv failed"

export STORYPACK_BIN="${STORYPACK_BIN:-$target_dir/debug/storypack}"
if [[ ! -x "$STORYPACK_BIN" ]]; then
    echo "interop: $STORYPACK_BIN is missing; cargo build --quiet --bin storypack"
    cargo build --quiet --bin storypack || summary_fallback "cargo build failed"
    [[ -x "$STORYPACK_BIN" ]] || summary_fallback "no $STORYPACK_BIN after cargo build"
fi

summary_file="$(mktemp)"
trap 'rm -f "$summary_file"' EXIT
export INTEROP_SUMMARY="$summary_file"
# The test prints the summary line itself; if it could not (killed, crashed on import), the
# summary file stays empty and the line is printed here instead.
limit=()
if command -v timeout >/dev/null; then
    limit=(timeout --kill-after=10 "${INTEROP_TIMEOUT:-180}")
fi
"${limit[@]}" "$target_dir/interop-venv/bin/python" -u scripts/interop/test_interop.py
status=$?

summary="$(cat "$summary_file")"
if [[ -z "$summary" ]]; then
    if [[ $status -eq 124 || $status -eq 137 ]]; then
        summary_fallback "the test did not finish within ${INTEROP_TIMEOUT:-180} s"
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

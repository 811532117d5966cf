#!/usr/bin/env bash
# Prints cargo's target directory for this workspace (absolute), wherever it is:
# `CARGO_TARGET_DIR`, `build.target-dir` in a cargo config, or `target/` in the clone.
# The scripts put their venv and look for the binary there instead of assuming `target/`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --no-deps --offline \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'

#!/usr/bin/env bash
# The test command (README.md, "The two commands"), which .ci/run runs too:
#   1. scripts/ci-deps.sh installs what the tests need when missing (Chromium and
#      ChromeDriver, python3-venv, node; PostgreSQL is installed by scripts/postgres.sh);
#   2. cargo test --locked inside a throwaway PostgreSQL cluster (scripts/postgres.sh), so
#      the store tests run against a real database and the board tests in a real browser;
#   3. the interop tests with the official Python and TypeScript MCP SDKs.
# Extra arguments go to cargo test (a filter, say); the interop tests run in any case.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ci-deps.sh
echo "== cargo test, inside a throwaway PostgreSQL"
bash scripts/postgres.sh cargo test --locked "$@"
echo "== interop: official Python MCP SDK"
bash scripts/interop/run.sh
echo "== interop: official TypeScript MCP SDK and the MCP Inspector"
bash scripts/ts-interop/run.sh

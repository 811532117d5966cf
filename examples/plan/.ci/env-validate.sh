#!/usr/bin/env bash
# Validate the target environment's variables against config/schema/<env>.json (SRE-01-03).
# Usage: env-validate.sh <env>
set -euo pipefail

target="${1:?usage: env-validate.sh <dev|preview|staging|prod>}"
schema="config/schema/${target}.json"

if [[ ! -f "$schema" ]]; then
  echo "env-validate: no schema for '${target}'" >&2
  exit 2
fi

echo "env-validate: target=${target} schema=${schema}"
# configcheck prints one line per problem and exits 1 if any required variable is missing
# or malformed; values are never printed.
configcheck --schema "$schema" --from-env --no-values
echo "env-validate: ok"

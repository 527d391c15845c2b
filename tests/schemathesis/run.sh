#!/usr/bin/env bash
# A bounded schemathesis run (GraphQL, fuzzing phase) against a live Masthead serving the
# demo content from a scratch SQLite database. make schemathesis; .ci/run runs it.
set -euo pipefail
cd "$(dirname "$0")/../.."
scratch=$(mktemp -d)
port=${MASTHEAD_SCHEMATHESIS_PORT:-8799}
export MASTHEAD_DATABASE_URL="sqlite:///$scratch/schemathesis.db"
export MASTHEAD_RATE_LIMIT=0  # thousands of requests from one address, on purpose
.venv/bin/masthead db upgrade >/dev/null
.venv/bin/masthead demo >/dev/null
.venv/bin/masthead serve --port "$port" >"$scratch/server.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$scratch"' EXIT
SCHEMATHESIS_HOOKS=checks PYTHONPATH=tests/schemathesis .venv/bin/schemathesis run \
  "http://127.0.0.1:$port/graphql" --wait-for-schema 30 \
  --max-examples "${MASTHEAD_SCHEMATHESIS_EXAMPLES:-50}" \
  --checks answered_with_codes --phases fuzzing

#!/usr/bin/env bash
# Cache hits under load, and the database transactions they cost: one worker serving
# DATABASE (a PostgreSQL database, e.g. one `make bench` loaded) pinned to CPU 0, wrk on
# CPU 1 sending the same anonymous GET over 32 connections for 10 s, and PostgreSQL's
# count of transactions in that database meanwhile (reads run in autocommit: one a
# statement). Run from the root of the tree to measure; needs wrk and psql.
#
#   bash bench/cache_hits.sh masthead_bench_10000_s1 [port]
set -euo pipefail
database=$1
port=${2:-8631}
server=postgresql://postgres@127.0.0.1
MASTHEAD_DATABASE_URL=$server/$database MASTHEAD_RATE_LIMIT=0 \
  taskset -c 0 .venv/bin/python -m masthead.cli serve --host 127.0.0.1 --port "$port" \
  >/dev/null 2>&1 &
pid=$!
trap 'kill -INT $pid; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 60); do curl -s -o /dev/null "http://127.0.0.1:$port/readyz" && break; sleep 0.5; done
query=$(python3 -c 'import urllib.parse; print(urllib.parse.quote("{ articles(first: 5) { nodes { slug title } } }"))')
url="http://127.0.0.1:$port/graphql?query=$query"
curl -s -o /dev/null "$url"  # kept
transactions() {
  psql -h 127.0.0.1 -U postgres -Atc \
    "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$database'"
}
before=$(transactions)
report=$(taskset -c 1 wrk -t1 -c32 -d10s "$url")
sleep 1
after=$(transactions)
requests=$(echo "$report" | awk '/requests in/ {print $1}')
echo "$report" | grep -E "Requests/sec|Latency"
python3 -c "print(f'{$requests} hits, {$after - $before} transactions: {($after - $before) / $requests:.3f} a hit')"

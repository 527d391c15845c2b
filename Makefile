PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test install dev lint lock schema bench clean mutation schemathesis

# Every install takes the versions pinned in constraints.txt (`make lock` renews them).
$(BIN)/masthead: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $@

# GraphiQL's prebuilt files, from the npm registry at the versions package-lock.json pins,
# checked against integrity.json and copied to static/vendor (masthead/graphiql.py). Without
# npm the API still installs, and GET /graphql says how to get the IDE.
GRAPHIQL := masthead/graphiql_assets
# Only a changed lock or hash list fetches again (and npm's cache serves what it already has),
# so a reinstall of the Python side never needs the network for GraphiQL.
$(GRAPHIQL)/static/vendor/.installed: $(GRAPHIQL)/package-lock.json $(GRAPHIQL)/integrity.json | $(BIN)/masthead
	@if command -v npm >/dev/null; then \
		npm ci --prefix $(GRAPHIQL) --prefer-offline --no-audit --no-fund --loglevel=error && \
		$(BIN)/python -m masthead.graphiql && touch $@; \
	else \
		echo "npm not found: GraphiQL's files are not installed (GET /graphql says so)" >&2; \
	fi

$(VENV)/.dev: $(BIN)/masthead
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

install: $(BIN)/masthead $(GRAPHIQL)/static/vendor/.installed

dev: install $(VENV)/.dev

serve: install
	$(BIN)/masthead db upgrade
	$(BIN)/masthead demo --if-empty
	$(BIN)/masthead serve --host $(HOST) --port $(PORT)

test: dev
	$(BIN)/python -m pytest --cov --cov-report=term

# Mutation testing of the code that guards users (config: [tool.mutmut] in pyproject.toml).
# Of resolvers/articles/reads.py only the visibility rule is mutated, and of db/models.py
# its kernel, Article.is_public. SQLite only by default (the rule is SQL that both databases
# run alike); `make mutation MUTATION_PYTEST_ADDOPTS=` runs PostgreSQL too.
MUTANTS := "resolvers.articles.sanitize.*" "resolvers.access.permissions.*" \
	"resolvers.access.tokens.*" "resolvers.global_ids.*" \
	"resolvers.articles.reads.x_visibility__mutmut_*" \
	"resolvers.articles.reads.x_filter_conditions__mutmut_*" \
	"resolvers.articles.reads.x__single_visibility__mutmut_*" \
	"db.models.x*Article*is_public__mutmut_*"
MUTATION_WORKERS ?= 2
MUTATION_PYTEST_ADDOPTS ?= -k "not postgresql"
# Survivors reviewed one by one and found equivalent (no input tells them from the code,
# e.g. an argument spelled out that equals nh3's default): one more fails the target.
MUTATION_EQUIVALENT := 24

mutation: dev
	rm -rf mutants
	PYTEST_ADDOPTS='$(MUTATION_PYTEST_ADDOPTS)' $(BIN)/mutmut run --max-children $(MUTATION_WORKERS) $(MUTANTS)
	@$(BIN)/mutmut results | grep -v ': not checked$$' > mutants/not-killed.txt || true
	@cat mutants/not-killed.txt
	@count=$$(wc -l < mutants/not-killed.txt); \
	echo "$$count mutants not killed, $(MUTATION_EQUIVALENT) known equivalent"; \
	test $$count -le $(MUTATION_EQUIVALENT)

# Generated GraphQL operations against a live server (bounded; MASTHEAD_SCHEMATHESIS_EXAMPLES).
schemathesis: dev
	bash tests/schemathesis/run.sh

# Masthead served beside a ceiling sending the same SQL (bench/run.py; README, Development).
# Needs wrk (apt-get install wrk). Corpora and databases it loads go to BENCH_DIR (default: in
# the temp directory) and are kept for the next run; given ones (BENCH_CORPUS_<SIZE>,
# BENCH_SQLITE_URL_<SIZE>, BENCH_POSTGRES_URL_<SIZE>, SIZE 10K or 1M) are used as they are,
# written only by what Masthead's own reads keep (kept related lists).
BENCH_SIZES ?= 10k 1m
BENCH_DATABASES ?= sqlite postgresql
BENCH_WORKERS ?= 1 2
BENCH_DURATION ?= 15
BENCH_WARMUP ?= 5
BENCH_CONNECTIONS ?= 32
BENCH_WAIT_LOAD ?= 1.5
BENCH_OUT ?= bench/results/bench.md
_BENCH_GIVEN = $(foreach size,10K 1M,\
	$(if $(BENCH_CORPUS_$(size)),--corpus $(size)='$(BENCH_CORPUS_$(size))') \
	$(if $(BENCH_SQLITE_URL_$(size)),--sqlite $(size)='$(BENCH_SQLITE_URL_$(size))') \
	$(if $(BENCH_POSTGRES_URL_$(size)),--postgres $(size)='$(BENCH_POSTGRES_URL_$(size))'))

bench: dev
	$(BIN)/python -m bench.run --sizes '$(BENCH_SIZES)' --databases '$(BENCH_DATABASES)' \
		--workers '$(BENCH_WORKERS)' --duration $(BENCH_DURATION) --warmup $(BENCH_WARMUP) \
		--connections $(BENCH_CONNECTIONS) --wait-load $(BENCH_WAIT_LOAD) --out $(BENCH_OUT) \
		$(if $(BENCH_DIR),--work-dir '$(BENCH_DIR)') \
		$(if $(BENCH_POSTGRES_SERVER),--postgres-server '$(BENCH_POSTGRES_SERVER)') \
		$(_BENCH_GIVEN) $(BENCH_ARGS)

lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

lock: dev
	$(BIN)/pip-compile --quiet --upgrade --extra dev --strip-extras --no-emit-index-url \
		--no-emit-find-links --output-file constraints.txt pyproject.toml

schema: install
	$(BIN)/masthead schema > schema.graphql

clean:
	rm -rf $(VENV) masthead.db mutants $(GRAPHIQL)/node_modules $(GRAPHIQL)/static/vendor

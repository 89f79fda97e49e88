# Front-end assets: the GraphiQL playground is built with npm/Vite into
# web/dist/graphiql and embedded into the Go binary (package web).

GRAPHIQL_DIR := web/graphiql
GRAPHIQL_OUT := web/dist/graphiql/index.html
# A stamp inside node_modules: removing node_modules also forces a reinstall.
GRAPHIQL_DEPS := $(GRAPHIQL_DIR)/node_modules/.wallet-installed
GRAPHIQL_LOCK := $(wildcard $(GRAPHIQL_DIR)/package-lock.json)
GRAPHIQL_SRC := $(GRAPHIQL_DIR)/index.html $(GRAPHIQL_DIR)/vite.config.js \
    $(shell find $(GRAPHIQL_DIR)/src -type f 2>/dev/null)

.PHONY: assets

# Nothing runs when the bundle is newer than its sources and lock file.
assets: $(GRAPHIQL_OUT)

$(GRAPHIQL_OUT): $(GRAPHIQL_DEPS) $(GRAPHIQL_SRC)
	cd $(GRAPHIQL_DIR) && npm run build

# npm ci installs exactly the committed lock; npm install only when there is none.
$(GRAPHIQL_DEPS): $(GRAPHIQL_DIR)/package.json $(GRAPHIQL_LOCK)
	cd $(GRAPHIQL_DIR) && if [ -f package-lock.json ]; then \
		npm ci --no-audit --no-fund; \
	else \
		npm install --no-audit --no-fund; \
	fi
	touch $@

# Everyday entry points (see the README): `make run` serves the wallet, `make test` runs the
# whole suite (scripts/test.sh installs/starts what it needs: Redis, PostgreSQL, Chromium).
.PHONY: run test generate build

run: assets
	go run .

test:
	bash scripts/test.sh

# Regenerates ent and the two gqlgen layers (order in generate.go); TestGeneratedCodeIsCurrent
# fails when the committed code differs from this output.
generate:
	go generate ./...

build: assets
	go build -o wallet .

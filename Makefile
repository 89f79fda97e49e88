# Front-end assets: the GraphiQL playground and the admin console are built
# with npm/Vite into web/dist/graphiql and web/dist/console and embedded into
# the Go binary (package web).

GRAPHIQL_DIR := web/graphiql
GRAPHIQL_OUT := web/dist/graphiql/index.html
# A stamp inside node_modules: removing node_modules also forces a reinstall.
GRAPHIQL_DEPS := $(GRAPHIQL_DIR)/node_modules/.wallet-installed
GRAPHIQL_LOCK := $(wildcard $(GRAPHIQL_DIR)/package-lock.json)
GRAPHIQL_SRC := $(GRAPHIQL_DIR)/index.html $(GRAPHIQL_DIR)/vite.config.js \
    $(shell find $(GRAPHIQL_DIR)/src -type f 2>/dev/null)

CONSOLE_DIR := web/console
CONSOLE_OUT := web/dist/console/index.html
CONSOLE_DEPS := $(CONSOLE_DIR)/node_modules/.wallet-installed
CONSOLE_LOCK := $(wildcard $(CONSOLE_DIR)/package-lock.json)
CONSOLE_SRC := $(CONSOLE_DIR)/index.html $(CONSOLE_DIR)/vite.config.js \
    $(shell find $(CONSOLE_DIR)/src $(CONSOLE_DIR)/public -type f 2>/dev/null)

.PHONY: assets

# Nothing runs when a bundle is newer than its sources and lock file. The
# console's install also brings playwright-core (a devDependency, no browser
# download) for its browser test, TestConsoleInBrowser.
assets: $(GRAPHIQL_OUT) $(CONSOLE_OUT)

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

$(CONSOLE_OUT): $(CONSOLE_DEPS) $(CONSOLE_SRC)
	cd $(CONSOLE_DIR) && npm run build

$(CONSOLE_DEPS): $(CONSOLE_DIR)/package.json $(CONSOLE_LOCK)
	cd $(CONSOLE_DIR) && if [ -f package-lock.json ]; then \
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

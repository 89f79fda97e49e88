#!/usr/bin/env bash
# The whole test suite, as `make test` and CI (.ci/run) run it: services and packages
# (scripts/test-deps.sh), the playground bundle the web tests need (make assets), go vet, then
# every Go test with the race detector. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# A fresh root shell may not have Go on PATH yet.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

bash scripts/test-deps.sh

# Where the integration tests find the services (Redis databases 1..8 only).
export WALLET_TEST_REDIS=127.0.0.1:6379
export WALLET_TEST_POSTGRES='postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'

echo "==> make assets"
make assets

echo "==> go vet ./..."
go vet ./...

echo "==> go test -count=1 -race -timeout 15m ./..."
go test -count=1 -race -timeout 15m ./...

#!/usr/bin/env bash
# Makes sure this machine (Debian 12) has what `make test` needs, and says what it had to do:
#   - packages: redis-server, postgresql, chromium, prometheus (promtool), make, gcc and libc6-dev
#     (cgo: SQLite, -race),
#     installed with apt-get only when missing;
#   - Redis answering PING at 127.0.0.1:6379 (tests use databases 1..8);
#   - PostgreSQL accepting passwordless TCP connections from 127.0.0.1:5432 as user postgres.
# Services that already run are never stopped or restarted: other users share them.
# Idempotent; prints nothing when everything is in place.
set -euo pipefail

REDIS_HOST=127.0.0.1
REDIS_PORT=6379
PG_HOST=127.0.0.1
PG_PORT=5432
PG_CLUSTER=main # only used when no cluster exists for PG_PORT
PG_URL="postgres://postgres@${PG_HOST}:${PG_PORT}/postgres?sslmode=disable"

say() { echo "test-deps: $*"; }
die() {
	echo "test-deps: ERROR: $*" >&2
	exit 1
}

# Root runs everything directly; anyone else goes through sudo when there is one.
SUDO=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
	SUDO=(sudo)
fi

# --- packages ----------------------------------------------------------------------------

have() { command -v "$1" >/dev/null 2>&1; }

missing=()
{ have redis-server && have redis-cli; } || missing+=(redis-server)
{ have pg_isready && have psql && have pg_ctlcluster && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; } ||
	missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
have promtool || missing+=(prometheus) # promtool runs the alert rules' unit tests
have make || missing+=(make)
have gcc || missing+=(gcc)
# gcc only recommends the C library headers, and --no-install-recommends skips them; cgo needs them.
[ -e /usr/include/stdio.h ] || missing+=(libc6-dev)

if [ ${#missing[@]} -gt 0 ]; then
	say "installing ${missing[*]} with apt-get"
	log=$(mktemp)
	if ! { "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
		"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
		>"$log" 2>&1; then
		cat "$log" >&2
		rm -f "$log"
		die "apt-get could not install ${missing[*]}"
	fi
	rm -f "$log"
fi

# Not installed here (Debian's Node is too old for the playground build), only checked.
have npm || die "npm not found: \`make assets\` needs Node.js 20+ with npm"
have go || [ -x /usr/local/go/bin/go ] || die "go not found (expected on PATH or at /usr/local/go/bin/go)"

# --- Redis -------------------------------------------------------------------------------

redis_ok() { timeout 5 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

if ! redis_ok; then
	say "starting redis-server on ${REDIS_HOST}:${REDIS_PORT}"
	"${SUDO[@]}" mkdir -p /var/lib/redis /var/log/redis
	"${SUDO[@]}" redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
		--save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
	for _ in $(seq 1 20); do
		redis_ok && break
		sleep 0.5
	done
	if ! redis_ok; then
		tail -n 20 /var/log/redis/ci.log >&2 2>/dev/null || true
		die "Redis does not answer PING at ${REDIS_HOST}:${REDIS_PORT} after 10 s (log: /var/log/redis/ci.log)"
	fi
fi

# --- PostgreSQL --------------------------------------------------------------------------

pg_ready() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2; }

# The cluster configured for $PG_PORT, as "version name status" (pg_lsclusters columns).
pg_cluster() { pg_lsclusters -h 2>/dev/null | awk -v port="$PG_PORT" '$3 == port { print $1, $2, $4; exit }'; }

read -r pg_ver pg_name pg_status <<<"$(pg_cluster)" || true
if [ -z "${pg_ver:-}" ]; then
	# The package creates 15/main on install; create it again if it was dropped.
	pg_ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
	[ -n "$pg_ver" ] || die "no PostgreSQL server under /usr/lib/postgresql"
	[ ! -e "/etc/postgresql/${pg_ver}/${PG_CLUSTER}" ] ||
		die "PostgreSQL cluster ${pg_ver}/${PG_CLUSTER} exists but no cluster uses port ${PG_PORT} (see pg_lsclusters)"
	say "creating PostgreSQL cluster ${pg_ver}/${PG_CLUSTER} on port ${PG_PORT}"
	"${SUDO[@]}" pg_createcluster --port "$PG_PORT" "$pg_ver" "$PG_CLUSTER" >/dev/null
	read -r pg_ver pg_name pg_status <<<"$(pg_cluster)"
fi

if ! pg_ready; then
	if [ "${pg_status:-}" != online ]; then
		say "starting PostgreSQL cluster ${pg_ver}/${pg_name} on ${PG_HOST}:${PG_PORT}"
		"${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$pg_ver" "$pg_name" start
	fi
	for _ in $(seq 1 40); do
		pg_ready && break
		sleep 0.5
	done
	pg_ready || die "PostgreSQL does not accept connections at ${PG_HOST}:${PG_PORT} after 20 s (cluster ${pg_ver}/${pg_name}; see /var/log/postgresql/)"
fi

# The tests connect as postgres without a password. A fresh install asks for one
# (scram-sha-256) on TCP, so loopback connections get trust, placed first because the first
# matching pg_hba.conf line wins.
pg_connect() { env -u PGPASSWORD PGPASSFILE=/dev/null PGCONNECT_TIMEOUT=5 psql "$PG_URL" -w -XAtqc 'select 1' 2>&1 >/dev/null; }

if ! err=$(pg_connect); then
	case "$err" in
	*password* | *authentication* | *pg_hba.conf*) ;;
	*) die "cannot connect to ${PG_URL}: ${err}" ;;
	esac
	hba=/etc/postgresql/${pg_ver}/${pg_name}/pg_hba.conf
	[ -f "$hba" ] || die "cannot connect to ${PG_URL} (${err}) and ${hba} does not exist"
	marker="# wallet scripts/test-deps.sh: passwordless TCP from loopback for the test suite"
	if "${SUDO[@]}" grep -qF "$marker" "$hba"; then
		die "cannot connect to ${PG_URL} although ${hba} already trusts loopback: ${err}"
	fi
	say "allowing passwordless (trust) connections from 127.0.0.1 and ::1 in ${hba}, then reloading PostgreSQL"
	tmp=$(mktemp)
	{
		echo "$marker"
		printf 'host\tall\tall\t127.0.0.1/32\ttrust\n'
		printf 'host\tall\tall\t::1/128\ttrust\n'
		echo
		"${SUDO[@]}" cat "$hba"
	} >"$tmp"
	# Rewrite in place so the file keeps its owner and mode. (No backup next to it: a stray
	# file would keep pg_dropcluster from removing the directory; undo = delete these lines.)
	"${SUDO[@]}" tee "$hba" <"$tmp" >/dev/null
	rm -f "$tmp"
	"${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$pg_ver" "$pg_name" reload
	for _ in $(seq 1 20); do
		err=$(pg_connect) && break
		sleep 0.5
	done
	err=$(pg_connect) || die "cannot connect to ${PG_URL} after updating ${hba}: ${err}"
fi

#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then runs all of it:
# typecheck, lint, unit and integration tests (PGlite, PostgreSQL, OpenLDAP, MCP servers),
# end-to-end tests in Chromium. Safe to run again: installed pieces are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

export NEXT_TELEMETRY_DISABLED=1
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/sbin/slapd ] || missing+=(slapd)
command -v ldapadd >/dev/null 2>&1 || missing+=(ldap-utils)
# The bundle tests follow the README's standard-tool verification, which uses jq.
command -v jq >/dev/null 2>&1 || missing+=(jq)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> Installing system packages: ${missing[*]}"
  # slapd would otherwise ask for an admin password and create a system-wide directory.
  echo 'slapd slapd/no_configuration boolean true' | as_root debconf-set-selections
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "==> Installing npm packages"
npm install --no-audit --no-fund

# The PostgreSQL tests create (and drop) a fresh database per test file on this server.
export LOOPSTACKS_TEST_POSTGRES_URL="${LOOPSTACKS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "==> Starting the local PostgreSQL cluster"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
fi

echo "==> Typecheck, lint, unit and integration tests"
npm run check

echo "==> End-to-end tests in Chromium"
npm run test:e2e

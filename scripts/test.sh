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

# Headless Chromium renders the HTML export in its test.
command -v chromium >/dev/null 2>&1 || apt_install chromium

# PostgreSQL on 127.0.0.1:5432 (the storage tests run on it as well as on SQLite).
pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
if ! pg_up; then
  if [ ! -d /etc/postgresql ]; then
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
.venv/bin/pytest -q -p no:cacheprovider "$@"

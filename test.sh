#!/usr/bin/env bash
# Install what the tests need and run them all: lint, types, then the whole suite on
# SQLite and again on MariaDB/MySQL (when a server answers at CMS_TEST_MARIADB_URL).
# CMS_REQUIRE_MARIADB=1 makes a missing MariaDB an error instead of a skipped pass.
set -euo pipefail
cd "$(dirname "$0")"

export CMS_TEST_MARIADB_URL=${CMS_TEST_MARIADB_URL:-mysql+mysqldb://root@127.0.0.1:3306/test}

# System packages: mysqlclient builds against libmariadb, the browser tests drive chromium.
missing=()
command -v pkg-config >/dev/null || missing+=(pkg-config)
dpkg -s libmariadb-dev >/dev/null 2>&1 || missing+=(libmariadb-dev)
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "Installing system packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "Please install these system packages first: ${missing[*]}" >&2
        exit 1
    fi
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== import contracts"
.venv/bin/lint-imports --no-cache

echo "== pytest on SQLite"
CMS_TEST_BACKEND=sqlite .venv/bin/pytest "$@"

mariadb_answers() {
    .venv/bin/python - <<'PY'
import os, sys
from sqlalchemy import create_engine, text
try:
    with create_engine(os.environ["CMS_TEST_MARIADB_URL"]).connect() as connection:
        connection.execute(text("SELECT 1"))
except Exception as exc:
    print(f"MariaDB not reachable: {exc}", file=sys.stderr)
    sys.exit(1)
PY
}

if ! mariadb_answers && [ "$(id -u)" = 0 ] && [ -x /usr/sbin/mariadbd ]; then
    echo "Starting the local MariaDB server"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    for _ in $(seq 30); do mariadb_answers 2>/dev/null && break; sleep 1; done
fi
if mariadb_answers; then
    echo "== pytest on MariaDB ($CMS_TEST_MARIADB_URL)"
    CMS_TEST_BACKEND=mariadb .venv/bin/pytest "$@"
elif [ "${CMS_REQUIRE_MARIADB:-0}" = 1 ]; then
    echo "MariaDB is required (CMS_REQUIRE_MARIADB=1) but not reachable" >&2
    exit 1
else
    echo "== SKIPPED the MariaDB pass: no server at $CMS_TEST_MARIADB_URL"
fi

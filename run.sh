#!/usr/bin/env bash
# Install the CMS into .venv and run it on its embedded SQLite database:
# migrate, create a first admin (its password is printed once), add demo content
# to an empty site, then serve http://127.0.0.1:8000 (the blog at /, /admin, /docs).
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "The CMS needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
    exit 1
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
.venv/bin/cms bootstrap

HOST=${CMS_HOST:-127.0.0.1}
PORT=${CMS_PORT:-8000}
SHOWN_HOST=$HOST
[ "$HOST" = 0.0.0.0 ] && SHOWN_HOST=127.0.0.1
cat <<URLS

  The blog:       http://$SHOWN_HOST:$PORT/
  Back office:    http://$SHOWN_HOST:$PORT/admin/   (admin@example.com)
  API docs:       http://$SHOWN_HOST:$PORT/docs
  Public API:     http://$SHOWN_HOST:$PORT/articles/
  Lost the admin password?  .venv/bin/cms changepassword admin@example.com

URLS
exec .venv/bin/cms serve --host "$HOST" --port "$PORT"

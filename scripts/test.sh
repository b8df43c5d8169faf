#!/usr/bin/env bash
# Installs into .venv (with the test tools), checks lint, formatting and types
# (mypy, configured in pyproject.toml), and runs the whole test suite, slow
# tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
echo "[test] ruff check"
.venv/bin/ruff check .
echo "[test] ruff format --check"
.venv/bin/ruff format --check .
echo "[test] mypy tzrec/"
.venv/bin/mypy
exec .venv/bin/python -m pytest -q -p no:cacheprovider tests "$@"

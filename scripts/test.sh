#!/usr/bin/env bash
# Installs into .venv (with the test tools), checks lint, formatting and types
# (mypy, configured in pyproject.toml), and runs both test tiers, slow tests
# included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
echo "[test] ruff check"
.venv/bin/ruff check .
echo "[test] ruff format --check"
.venv/bin/ruff format --check .
echo "[test] mypy tzrec/"
.venv/bin/mypy
# Unit tier first (in-process, about 2 minutes); the integration tier (CLI
# subprocesses, torchrun, the catalogue, the soak) runs only if it passes.
# Extra arguments go to both; exit 5 (no test matched a filter) is not a failure.
run_tier() {
  local rc=0
  .venv/bin/python -m pytest -q -p no:cacheprovider "$@" || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then exit "$rc"; fi
}
echo "[test] unit tier: tests/unit"
run_tier tests/unit "$@"
echo "[test] integration tier: tests/integration"
run_tier tests/integration "$@"

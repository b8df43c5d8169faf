#!/usr/bin/env bash
# Installs into .venv (with the test tools) and runs the whole test suite, slow tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/python -m pytest -q -p no:cacheprovider tests "$@"

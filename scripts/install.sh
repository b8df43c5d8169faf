#!/usr/bin/env bash
# Creates .venv/ in the repo root, installs the pinned dependencies and tzrec
# (editable), and generates tzrec/protos/*_pb2.py. Idempotent: a second run
# only re-checks the pins and regenerates the protos.
#
# Usage: scripts/install.sh   (also installs the test and lint tools: pytest, ruff)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  echo "[install] creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
PY=.venv/bin/python
PIP=(.venv/bin/python -m pip -q --disable-pip-version-check)
stamp=.venv/.tzrec-install-stamp
want="$(cat requirements.txt requirements-dev.txt setup.py | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[install] installing pinned dependencies"
  "${PIP[@]}" install -r requirements.txt 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
  # torchrec's metadata pins the CUDA fbgemm-gpu; its real needs are in requirements.txt.
  "${PIP[@]}" install --no-deps torchrec==1.8.0 2>&1 | grep -v "is ignored: it is neither" || true
  "${PIP[@]}" install -r requirements-dev.txt 2>&1 | grep -v "is ignored: it is neither" || true
  "${PIP[@]}" install --no-deps --no-build-isolation -e . 2>&1 | grep -v "is ignored: it is neither" || true
  "$PY" -c "import torch, torchrec, fbgemm_gpu, pyarrow, google.protobuf" \
    || { echo "[install] error: dependency import check failed" >&2; exit 1; }
  echo "$want" >"$stamp"
else
  echo "[install] dependencies up to date"
fi
"$PY" scripts/gen_protos.py

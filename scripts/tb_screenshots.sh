#!/usr/bin/env bash
# Screenshots of TensorBoard's Time Series, Custom Scalars and HParams pages
# with headless Chromium (Debian's `chromium` package), for docs/.
# Usage: bash scripts/tb_screenshots.sh LOGDIR OUT_DIR [PORT]
# (after scripts/quickstart.sh: bash scripts/tb_screenshots.sh runs docs)
set -euo pipefail
cd "$(dirname "$0")/.."
LOGDIR=$1
OUT=$2
PORT=${3:-6123}
mkdir -p "$OUT"
.venv/bin/tensorboard --logdir "$LOGDIR" --host 127.0.0.1 --port "$PORT" \
  --load_fast false > "$OUT/tensorboard.log" 2>&1 &
TB=$!
trap 'kill $TB' EXIT
for _ in $(seq 120); do
  curl -sf "http://127.0.0.1:$PORT/data/plugin/scalars/tags" | grep -q eval_val && break
  sleep 1
done
shot() {  # name, url fragment
  chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size=1500,1250 --virtual-time-budget=25000 \
    --screenshot="$OUT/$1.png" "http://127.0.0.1:$PORT/#$2" > /dev/null 2>&1
}
shot tensorboard_timeseries timeseries
shot tensorboard_custom_scalars custom_scalars
shot tensorboard_hparams hparams
# Small files for docs/: a 64-colour palette is plenty for charts.
.venv/bin/python - "$OUT" <<'PYEOF'
import pathlib, sys
from PIL import Image
for p in pathlib.Path(sys.argv[1]).glob("tensorboard_*.png"):
    Image.open(p).convert("RGB").quantize(64).save(p, optimize=True)
PYEOF

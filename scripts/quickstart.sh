#!/usr/bin/env bash
# The main job, end to end on the bundled synthetic data:
# install -> generate data -> train + evaluate -> export the best checkpoint -> predict.
# Usage: bash scripts/quickstart.sh   (env: ROWS, EVAL_ROWS, RUN_DIR to change the defaults)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
PY=.venv/bin/python
ROWS=${ROWS:-2000000}
EVAL_ROWS=${EVAL_ROWS:-100000}
DATA=data/synthetic
RUN_DIR=${RUN_DIR:-runs/deepfm_synthetic}
RUN_B="$RUN_DIR-sparse_lr0.03"
EXPORT_DIR="$RUN_DIR/export"
PRED="$RUN_DIR/predictions.parquet"

echo "[quickstart] generating $ROWS train + $EVAL_ROWS eval rows in $DATA"
$PY -m tzrec.tools.make_synthetic_data --output_dir "$DATA" --num_rows "$ROWS" --num_eval_rows "$EVAL_ROWS"

# A fresh run each time: an earlier quickstart run is moved aside, never deleted.
for d in "$RUN_DIR" "$RUN_B"; do
  if [ -d "$d" ]; then
    old="$d.old-$(date +%Y%m%d-%H%M%S)"
    echo "[quickstart] moving the previous run to $old"
    mv "$d" "$old"
  fi
done

echo "[quickstart] training (config: experiments/deepfm_synthetic.config)"
$PY -m tzrec.train_eval --pipeline_config_path experiments/deepfm_synthetic.config --model_dir "$RUN_DIR"

echo "[quickstart] exporting the best checkpoint to $EXPORT_DIR"
$PY -m tzrec.export --pipeline_config_path "$RUN_DIR/pipeline.config" --export_dir "$EXPORT_DIR"

echo "[quickstart] scoring the eval set into $PRED"
$PY -m tzrec.predict --scripted_model_path "$EXPORT_DIR" --predict_input_path "$DATA/eval" \
  --predict_output_path "$PRED" --reserved_columns label

echo "[quickstart] a second run with a larger sparse learning rate, for comparison"
$PY -m tzrec.train_eval --pipeline_config_path experiments/deepfm_synthetic.config --model_dir "$RUN_B" \
  --edit_config_json '{"train_config.sparse_optimizer.adagrad_optimizer.lr": 0.03}'

$PY -m tzrec.tools.runs show "$RUN_DIR"
$PY -m tzrec.tools.runs compare "$RUN_DIR" "$RUN_B"
$PY -m tzrec.tools.runs plot "$RUN_DIR" "$RUN_B" --output "$RUN_DIR/curves.png"

$PY - "$RUN_DIR" "$DATA" <<'PYEOF'
import json, sys
from tzrec.checkpoint.best import best_step
run, data = sys.argv[1], sys.argv[2]
oracle = json.load(open(f"{data}/meta.json"))["oracle_auc"]
found = best_step(f"{run}/train_eval_result.jsonl", "auc", True)
step, auc = found if found else (None, float("nan"))
print(f"[quickstart] best eval AUC {auc:.4f} at step {step}; oracle AUC of the data {oracle:.4f} (gap {oracle - auc:.4f})")
PYEOF
cat <<MSG
[quickstart] done.
  TensorBoard logs : $RUN_DIR  (tensorboard --logdir $(dirname "$RUN_DIR"): both runs, HParams compares them)
  eval log         : $RUN_DIR/train_eval_result.jsonl
  run events       : $RUN_DIR/events.jsonl
  exported model   : $EXPORT_DIR
  predictions      : $PRED
  curves           : $RUN_DIR/curves.png
MSG

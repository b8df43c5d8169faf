"""Issue 17's feature types and options, trained end to end in-process.

``make_synthetic_data --from_config`` writes the columns the example config's
features read (nested maps, kv lists, masks, text, sequences); train_eval then
trains multi_tower on them for 60 steps and evaluates; the model is exported
and predicts the eval rows.
"""

from __future__ import annotations

import pyarrow.parquet as pq
from google.protobuf import text_format

from tests.conftest import REPO
from tests.unit.models.conftest import train
from tzrec import config as config_lib
from tzrec import export as export_cli
from tzrec import predict as predict_cli
from tzrec.tools import make_synthetic_data
from tzrec.utils.dist import init_distributed

CONFIG = REPO / "tests" / "configs" / "derived_features.config"


def test_every_derived_feature_trains_and_beats_chance(tmp_path, capsys):
    data = tmp_path / "data"
    argv = ["--from_config", str(CONFIG), "--output_dir", str(data)]
    assert make_synthetic_data.main([*argv, "--num_rows", "3000", "--seed", "3"]) == 0
    assert "skipped" not in capsys.readouterr().out.split("wrote")[-1]
    table = pq.read_table(data / "train")
    # A column for each input of the derived features, in the shape they read.
    row = table.slice(0, 1).to_pylist()[0]
    assert "^" in row["cate_brand_score"] and ":" in row["interests"]
    assert len(row["click_items"].split(",")) == len(row["click_valid"].split(","))
    config = config_lib.load_pipeline_config(str(CONFIG))
    config.train_input_path = str(data / "train")
    config.eval_input_path = str(data / "eval")
    config.model_dir = str(tmp_path / "run")
    config_lib.validate(config)
    log = train(config, init_distributed())
    assert log[-1]["global_step"] == 60
    # The label depends on the derived columns only (and noise).
    assert log[-1]["auc"] > 0.65, log
    # Export (autodis / mlp modules, FP16 and suffixed tables) and predict.
    config_path = tmp_path / "run" / "pipeline.config"
    config_path.write_text(text_format.MessageToString(config))
    export_dir, out = tmp_path / "export", tmp_path / "pred.parquet"
    export_args = ["--pipeline_config_path", str(config_path)]
    export_args += ["--export_dir", str(export_dir)]
    assert export_cli.main(export_cli.build_parser().parse_args(export_args)) == 0
    predict_args = ["--scripted_model_path", str(export_dir)]
    predict_args += ["--predict_input_path", str(data / "eval")]
    predict_args += ["--predict_output_path", str(out)]
    assert predict_cli.main(predict_cli.build_parser().parse_args(predict_args)) == 0
    probs = pq.read_table(out)["probs"].to_numpy()
    assert len(probs) == 300 and ((probs > 0) & (probs < 1)).all()

"""Every model on a shrunk copy of its example: outputs, losses, export parity.

The example's model section is kept as written; only the features are cut
to a handful (small tables) so a build takes a fraction of a second.
"""

import pytest
import torch

from tests.cli import REPO
from tzrec import config as config_lib
from tzrec.export.inference_model import script_model, scripted_inputs
from tzrec.export.self_check import synthetic_batch
from tzrec.features.build import build_features
from tzrec.models.build import build_model

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*torch.jit.*deprecated:DeprecationWarning"
)

MODELS = [
    "deepfm",
    "wide_and_deep",
    "dlrm",
    "multi_tower",
    "dcn_v2",
    "mask_net",
    "mmoe",
    "dbmtl",
]
KEEP = {"int_0", "int_1", "int_2", "cat_0", "cat_1", "cat_4", "cat_5", "price"}


def shrunk_config(name: str, **edits):
    """The example config with only the features in KEEP (tables <= 1000)."""
    import json

    path = REPO / "experiments" / f"{name}_synthetic.config"
    config = config_lib.load_pipeline_config(str(path), json.dumps(edits) or None)
    kept = [
        fc for fc in config.feature_configs if config_lib.feature_name_of(fc) in KEEP
    ]
    del config.feature_configs[:]
    config.feature_configs.extend(kept)
    for g in config.model_config.feature_groups:
        names = [n for n in g.feature_names if n in KEEP]
        del g.feature_names[:]
        g.feature_names.extend(names)
    config_lib.validate(config)
    return config


def _model(config):
    model = build_model(
        config, build_features(config.feature_configs), torch.device("cpu")
    )
    return model.eval()


def _batch(model, n=6):
    batch = synthetic_batch(model, n, seed=3)
    for task in model.tasks:
        batch.labels[task.label_name] = torch.tensor([0.0, 1.0] * (n // 2))
    return batch


@pytest.mark.parametrize("name", MODELS)
def test_outputs_losses_and_scripted_parity(name):
    model = _model(shrunk_config(name))
    batch = _batch(model)
    preds = model(batch)
    assert sorted(preds) == sorted(model.output_names())
    for key, value in preds.items():
        assert value.shape == (6,) and value.dtype == torch.float32, key
    losses = model.loss(preds, batch)
    assert list(losses) == model.loss_names
    assert all(torch.isfinite(v) and v.dim() == 0 for v in losses.values())
    scripted = script_model(model)
    got = scripted(*scripted_inputs(batch))
    for key in preds:
        assert torch.allclose(got[key], preds[key], atol=1e-5), key


def test_softmax_and_regression_outputs_and_export():
    config = shrunk_config(
        "dcn_v2",
        **{
            "model_config.num_class": 2,
            "model_config.losses[0]": {"softmax_cross_entropy": {}},
        },
    )
    model = _model(config)
    preds = model(_batch(model))
    assert preds["logits"].shape == (6, 2) and preds["probs"].shape == (6, 2)
    assert torch.allclose(preds["probs1"], preds["probs"][:, 1])
    assert model.output_names() == ["probs1"]
    got = script_model(model)(*scripted_inputs(_batch(model)))
    assert torch.allclose(got["probs1"], preds["probs1"], atol=1e-6)
    reg = _model(
        shrunk_config(
            "mask_net",
            **{
                "model_config.losses[0]": {"l2_loss": {}},
                "model_config.metrics": [{"mean_squared_error": {}}],
                "model_config.train_metrics": [],
                "export_config.best_exporter_metric": "mean_squared_error",
            },
        )
    )
    assert sorted(reg(_batch(reg))) == ["y"]


def test_sample_weights_and_task_weight_scale_the_loss():
    config = shrunk_config("mmoe", **{"model_config.mmoe.task_towers[1].weight": 0.25})
    config.data_config.sample_weight_fields.append("w")
    config.model_config.mmoe.task_towers[0].sample_weight_name = "w"
    model = _model(config)
    batch = _batch(model)
    preds = model(batch)
    batch.weights["w"] = torch.ones(6)
    plain = model.loss(preds, batch)
    batch.weights["w"] = torch.tensor([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    weighted = model.loss(preds, batch)
    ctr = torch.nn.functional.binary_cross_entropy_with_logits(
        preds["logits_ctr"][::2], batch.labels["label"][::2]
    )
    assert torch.allclose(weighted["binary_cross_entropy_ctr"], ctr)
    cvr = torch.nn.functional.binary_cross_entropy_with_logits(
        preds["logits_cvr"], batch.labels["conversion"]
    )
    assert torch.allclose(plain["binary_cross_entropy_cvr"], 0.25 * cvr)
    assert torch.allclose(weighted["binary_cross_entropy_cvr"], 0.25 * cvr)
    assert not torch.allclose(plain["binary_cross_entropy_ctr"], ctr)


def test_bf16_autocast_inside_forward_float32_outside():
    model = _model(shrunk_config("dcn_v2", **{"train_config.mixed_precision": "BF16"}))
    seen = []
    first = model.head.final[0]  # a Linear: autocast runs it in bf16
    first.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    batch = _batch(model)
    preds = model(batch)
    assert seen == [torch.bfloat16]
    assert preds["probs"].dtype == torch.float32
    full = model.predict(batch)  # predict itself runs in float32
    assert seen[-1] == torch.float32
    assert torch.allclose(preds["probs"], full["probs"], atol=0.05)


def test_one_group_models_refuse_several_groups():
    from tzrec.utils.errors import ConfigError

    config = shrunk_config("dcn_v2")
    extra = config.model_config.feature_groups.add()
    extra.CopyFrom(config.model_config.feature_groups[0])
    extra.group_name = "other"
    with pytest.raises(ConfigError, match="exactly one feature group"):
        config_lib.validate(config)

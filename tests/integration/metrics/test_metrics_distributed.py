"""Cross-rank reduction with a real 2-process gloo group."""

import json
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torchmetrics.classification import BinaryF1Score

from tzrec.metrics import (
    AUC,
    XAUC,
    DecayAUC,
    GroupedAUC,
    GroupedXAUC,
    MeanAbsoluteError,
    update_metric,
)
from tzrec.metrics.train_metric_wrapper import TrainMetricWrapper


def _data():
    g = torch.Generator().manual_seed(3)
    labels = (torch.rand(64, generator=g) < 0.4).long()
    preds = torch.sigmoid(torch.randn(64, generator=g) + labels)
    groups = torch.randint(0, 5, (64,), generator=g)
    return preds, labels, groups


def _results(rank_slices):
    """The metrics over ``rank_slices`` of the data (one process or many)."""
    preds, labels, groups = _data()
    auc, gauc = AUC(), GroupedAUC()
    train_auc = TrainMetricWrapper(DecayAUC(), decay_rate=0.8, decay_step=2)
    mae = TrainMetricWrapper(MeanAbsoluteError(), decay_rate=0.5, decay_step=2)
    # exact XAUCs (every pair), a user's torchmetrics metric, and a grouped
    # AUC fed by the first slice only (a rank without rows joins the gather)
    xauc, gxauc = XAUC(sample_ratio=1.0), GroupedXAUC(max_pairs_per_group=10**6)
    f1, sparse = BinaryF1Score(), GroupedAUC()
    sparse_rows = rank_slices[0] if rank_slices[0].start == 0 else slice(0, 0)
    sparse.update(
        preds[sparse_rows], labels[sparse_rows], grouping_key=groups[sparse_rows]
    )
    for sl in rank_slices:
        auc.update(preds[sl], labels[sl])
        gauc.update(preds[sl], labels[sl], grouping_key=groups[sl])
        xauc.update(preds[sl], labels[sl].float())
        gxauc.update(preds[sl], labels[sl].float(), grouping_key=groups[sl])
        update_metric(f1, preds[sl], labels[sl].float(), target_kind="binary")
        for half in (slice(sl.start, sl.start + 8), slice(sl.start + 8, sl.stop)):
            train_auc.update(preds[half], labels[half])
            mae.update(preds[half], labels[half].float())
    return {
        "auc": auc.compute().item(),
        "grouped_auc": gauc.compute().item(),
        "train_auc": train_auc.compute().item(),
        "train_mae": mae.compute().item(),
        "xauc": xauc.compute().item(),
        "grouped_xauc": gxauc.compute().item(),
        "f1": f1.compute().item(),
        "sparse_grouped_auc": sparse.compute().item(),
    }


def _worker(rank, world, init_file, out_dir):
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world
    )
    try:
        # rank r holds rows [16r, 16r + 16) and [32 + 16r, 32 + 16r + 16)
        slices = [
            slice(16 * rank, 16 * rank + 16),
            slice(32 + 16 * rank, 48 + 16 * rank),
        ]
        with open(os.path.join(out_dir, f"{rank}.json"), "w") as f:
            json.dump(_results(slices), f)
    finally:
        dist.destroy_process_group()


def test_reduced_metrics_match_single_process(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2)
    r0 = json.loads((tmp_path / "0.json").read_text())
    r1 = json.loads((tmp_path / "1.json").read_text())
    assert r0 == pytest.approx(r1)  # every rank gets the reduced value
    whole = _results([slice(0, 16), slice(32, 48), slice(16, 32), slice(48, 64)])
    assert r0["auc"] == pytest.approx(whole["auc"], abs=1e-6)
    assert r0["grouped_auc"] == pytest.approx(whole["grouped_auc"], abs=1e-6)
    for key in ("xauc", "grouped_xauc", "f1", "sparse_grouped_auc"):
        assert r0[key] == pytest.approx(whole[key], abs=1e-6), key
    # Train windows: rank r's first window is its first slice, so summed over
    # ranks window 1 is rows [0, 32) and window 2 rows [32, 64). DecayAUC sums
    # counts (exact); MAE averages equal-sized ranks (exact too).
    windows = _results([slice(0, 32), slice(32, 64)])
    assert r0["train_auc"] == pytest.approx(windows["train_auc"], abs=1e-6)
    assert r0["train_mae"] == pytest.approx(windows["train_mae"], abs=1e-6)
    assert r0["train_auc"] != pytest.approx(r0["auc"], abs=1e-4)  # decay matters

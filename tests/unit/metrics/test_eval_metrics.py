import itertools
import math

import pytest
import torch

from tzrec.metrics import (
    AUC,
    Accuracy,
    Calibration,
    GroupedAUC,
    LossMean,
    MeanAbsoluteError,
    MeanSquaredError,
    NormalizedEntropy,
    exact_auc,
)


def brute_force_auc(preds, labels, weights=None):
    """Weighted share of (positive, negative) pairs ordered right; ties half."""
    weights = weights if weights is not None else [1.0] * len(preds)
    good = total = 0.0
    for (p, y, w), (q, z, v) in itertools.product(
        zip(preds, labels, weights), repeat=2
    ):
        if y == 1 and z == 0:
            total += w * v
            good += w * v * (1.0 if p > q else 0.5 if p == q else 0.0)
    return good / total


def test_binned_auc_equals_pair_counting_on_the_grid():
    g = torch.Generator().manual_seed(0)
    t = 11
    k = torch.randint(0, t - 1, (300,), generator=g)
    preds = (k.double() + 0.5) / (t - 1)  # bucket centres: no boundary rounding
    labels = (torch.rand(300, generator=g) < k / t).long()
    auc = AUC(thresholds=t)
    for chunk in range(3):
        sl = slice(100 * chunk, 100 * (chunk + 1))
        auc.update(preds[sl].float(), labels[sl])
    expected = brute_force_auc(k.tolist(), labels.tolist())
    assert auc.compute().item() == pytest.approx(expected, abs=1e-6)


def test_binned_auc_close_to_exact_and_exact_matches_brute_force():
    g = torch.Generator().manual_seed(1)
    labels = (torch.rand(400, generator=g) < 0.3).long()
    preds = torch.sigmoid(torch.randn(400, generator=g) + labels)
    preds[:20] = 0.5  # ties
    exact = brute_force_auc(preds.tolist(), labels.tolist())
    assert exact_auc(preds, labels).item() == pytest.approx(exact, abs=1e-12)
    auc = AUC()
    auc.update(preds, labels)
    assert abs(auc.compute().item() - exact) < 0.01


def test_auc_weights_equal_duplicated_rows_and_one_class_is_nan():
    preds = torch.tensor([0.9, 0.2, 0.6, 0.4])
    labels = torch.tensor([1, 0, 0, 1])
    weighted = AUC()
    weighted.update(preds, labels, weights=torch.tensor([2.0, 1.0, 1.0, 3.0]))
    dup = AUC()
    dup.update(
        preds.repeat_interleave(torch.tensor([2, 1, 1, 3])),
        labels.repeat_interleave(torch.tensor([2, 1, 1, 3])),
    )
    assert weighted.compute().item() == pytest.approx(dup.compute().item())
    single = AUC()
    single.update(preds, torch.ones(4))
    assert math.isnan(single.compute().item())


def test_grouped_auc_hand_computed():
    # group 7: pos {0.9, 0.3}, neg {0.8, 0.1}: 3 of 4 pairs right -> 0.75
    # group 3: pos {0.4}, neg {0.6, 0.4}: 0 + tie 0.5 -> 0.25
    # group 42 (all positive) and -1 (all negative) do not count
    rows = [
        (0.9, 1, 7),
        (0.4, 1, 3),
        (0.5, 1, 42),
        (0.8, 0, 7),
        (0.6, 0, 3),
        (0.3, 1, 7),
        (0.2, 0, -1),
        (0.4, 0, 3),
        (0.1, 0, 7),
        (0.7, 1, 42),
    ]
    preds, labels, groups = (torch.tensor(c) for c in zip(*rows))
    m = GroupedAUC(grouping_key="user_id")
    m.update(preds[:4], labels[:4], grouping_key=groups[:4])
    m.update(preds[4:], labels[4:], grouping_key=groups[4:])
    assert m.compute().item() == pytest.approx(0.5)
    restored = GroupedAUC()
    restored.load_state_dict(m.state_dict())
    assert restored.compute().item() == pytest.approx(0.5)
    m.reset()
    assert math.isnan(m.compute().item())
    with pytest.raises(ValueError):
        m.update(preds, labels)


def test_normalized_entropy_hand_computed():
    m = NormalizedEntropy()
    m.update(torch.tensor([0.8, 0.4]), torch.tensor([1, 0]))
    log_loss = -(math.log(0.8) + math.log(0.6)) / 2  # 0.366985
    entropy = math.log(2)  # base rate 0.5
    assert m.compute().item() == pytest.approx(log_loss / entropy, rel=1e-6)
    assert m.compute().item() == pytest.approx(0.529447, rel=1e-5)
    always_base = NormalizedEntropy()
    always_base.update(torch.full((4,), 0.25), torch.tensor([1, 0, 0, 0]))
    assert always_base.compute().item() == pytest.approx(1.0, rel=1e-6)


def test_accuracy_mse_mae_calibration_loss_mean():
    preds = torch.tensor([0.6, 0.5, 0.4, 0.9])
    labels = torch.tensor([1, 1, 0, 0])
    acc = Accuracy(threshold=0.5)
    acc.update(preds, labels)
    assert acc.compute().item() == pytest.approx(0.5)  # 0.5 is not > 0.5
    acc_w = Accuracy()
    acc_w.update(preds, labels, weights=torch.tensor([1.0, 1.0, 2.0, 0.0]))
    assert acc_w.compute().item() == pytest.approx(0.75)
    mse, mae = MeanSquaredError(), MeanAbsoluteError()
    for m in (mse, mae):
        m.update(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 4.0]))
    assert mse.compute().item() == pytest.approx(2.5)
    assert mae.compute().item() == pytest.approx(1.5)
    cal = Calibration()
    cal.update(torch.tensor([0.2, 0.4]), torch.tensor([1, 0]))
    assert cal.compute().item() == pytest.approx(0.6)
    lm = LossMean()
    lm.update(torch.tensor(0.5), 10)
    lm.update(torch.tensor(1.0), torch.tensor(30.0))
    assert lm.compute().item() == pytest.approx(0.875)


def test_state_dict_round_trip_and_reset():
    a = AUC(thresholds=50)
    a.update(torch.tensor([0.1, 0.8, 0.3]), torch.tensor([0, 1, 1]))
    b = AUC(thresholds=50)
    b.load_state_dict(a.state_dict())
    assert b.compute().item() == a.compute().item()
    a.reset()
    assert math.isnan(a.compute().item())
    assert not math.isnan(b.compute().item())


def test_accuracy_top_k_on_class_probabilities():
    probs = torch.tensor(
        [[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7], [0.5, 0.4, 0.1]]
    )
    labels = torch.tensor([1.0, 1.0, 0.0, 2.0])
    top1, top2 = Accuracy(top_k=1), Accuracy(top_k=2)
    top1.update(probs, labels)
    top2.update(probs, labels)
    # top-1 hits: row 1 only; top-2 adds row 0 (label 1 is second).
    assert float(top1.compute()) == pytest.approx(1 / 4)
    assert float(top2.compute()) == pytest.approx(2 / 4)


def test_accuracy_top_k_reaches_the_metric_from_the_config():
    from tzrec.metrics.build import build_eval_metrics
    from tzrec.protos import metric_pb2

    cfg = metric_pb2.MetricConfig()
    cfg.accuracy.top_k = 3
    metric = build_eval_metrics([cfg])["accuracy"]
    assert metric.top_k == 3

"""multiclass_auc, recall_at_k, xauc, grouped_xauc and train grouped AUC / NE,
each against an independent numpy computation written here."""

import math

import numpy as np
import pytest
import torch

from tzrec.metrics import (
    XAUC,
    GroupedAUC,
    GroupedXAUC,
    MulticlassAUC,
    NormalizedEntropy,
    RecallAtK,
    TrainMetricWrapper,
)


def np_pair_auc(scores, positive, weights):
    """Weighted share of (positive, negative) pairs ordered right; ties half."""
    s_pos, w_pos = scores[positive], weights[positive]
    s_neg, w_neg = scores[~positive], weights[~positive]
    diff = s_pos[:, None] - s_neg[None, :]
    good = (diff > 0) + 0.5 * (diff == 0)
    return float(
        (w_pos[:, None] * w_neg[None, :] * good).sum() / (w_pos.sum() * w_neg.sum())
    )


def np_xauc_all_pairs(p, t):
    """Share of unordered row pairs whose predictions order like their labels."""
    i, j = np.triu_indices(len(p), k=1)
    return float(np.mean((p[i] - p[j]) * (t[i] - t[j]) > 0))


def _classes(seed, n=600, c=4):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    logits = rng.normal(size=(n, c)) + 1.5 * np.eye(c)[labels] * rng.random((n, 1))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    weights = rng.random(n) + 0.5
    return probs, labels, weights


@pytest.mark.parametrize("average", ["macro", "weighted"])
def test_multiclass_auc_is_one_vs_rest_binned_auc(average):
    probs, labels, weights = _classes(0)
    t = 200
    m = MulticlassAUC(num_classes=4, thresholds=t, average=average)
    for sl in np.array_split(np.arange(len(labels)), 3):
        m.update(
            torch.tensor(probs[sl]), torch.tensor(labels[sl]), torch.tensor(weights[sl])
        )
    # binned AUC = exact pair AUC of the scores floored onto the T-point grid
    buckets = np.clip(np.floor(probs * (t - 1)), 0, t - 1)
    aucs = np.array(
        [np_pair_auc(buckets[:, c], labels == c, weights) for c in range(4)]
    )
    support = np.array([weights[labels == c].sum() for c in range(4)])
    expected = (
        aucs.mean() if average == "macro" else (aucs * support).sum() / support.sum()
    )
    assert m.compute().item() == pytest.approx(expected, abs=1e-5)
    assert 0.6 < expected < 1.0  # the scores carry signal


def test_multiclass_auc_skips_a_class_never_seen():
    probs, labels, weights = _classes(1, c=3)
    m = MulticlassAUC(num_classes=4)
    padded = np.concatenate([probs, np.zeros((len(labels), 1))], axis=1)
    m.update(torch.tensor(padded), torch.tensor(labels))
    buckets = np.floor(padded * 199)
    expected = np.mean(
        [
            np_pair_auc(buckets[:, c], labels == c, np.ones(len(labels)))
            for c in range(3)
        ]
    )
    assert m.compute().item() == pytest.approx(expected, abs=1e-5)


def test_recall_at_k_counts_labels_among_the_k_highest():
    probs, labels, _ = _classes(2)
    m = RecallAtK(top_k=2)
    m.update(torch.tensor(probs[:300]), torch.tensor(labels[:300]).float())
    m.update(torch.tensor(probs[300:]), torch.tensor(labels[300:]).float())
    top2 = np.argsort(-probs, axis=1)[:, :2]
    expected = np.mean([labels[r] in top2[r] for r in range(len(labels))])
    assert m.compute().item() == pytest.approx(expected, abs=1e-6)


def _watch_times(seed, n):
    rng = np.random.default_rng(seed)
    t = rng.exponential(30.0, n).round(0)  # ties in the label happen
    p = t + rng.normal(0, 25.0, n)
    groups = rng.integers(0, 12, n)
    return p, t, groups


def test_xauc_exact_when_every_pair_is_asked_for():
    p, t, _ = _watch_times(0, 400)
    m = XAUC(sample_ratio=1.0)
    m.update(torch.tensor(p[:150]), torch.tensor(t[:150]))
    m.update(torch.tensor(p[150:]), torch.tensor(t[150:]))
    assert m.compute().item() == pytest.approx(np_xauc_all_pairs(p, t), abs=1e-6)
    by_count = XAUC(max_pairs=400 * 399 // 2)
    by_count.update(torch.tensor(p), torch.tensor(t))
    assert by_count.compute().item() == pytest.approx(np_xauc_all_pairs(p, t), abs=1e-6)


def test_xauc_sampled_estimate_is_close_and_repeatable():
    p, t, _ = _watch_times(1, 3000)
    exact = np_xauc_all_pairs(p, t)
    m = XAUC(max_pairs=200_000)
    m.update(torch.tensor(p), torch.tensor(t))
    first = m.compute().item()
    assert first == pytest.approx(exact, abs=0.005)  # ~4 standard errors
    again = XAUC(max_pairs=200_000)
    again.update(torch.tensor(p), torch.tensor(t))
    assert again.compute().item() == first  # seeded draw


def test_xauc_in_batch_averages_the_batches():
    p, t, _ = _watch_times(2, 300)
    m = XAUC(in_batch=True)
    parts = np.array_split(np.arange(300), [100, 250])
    for sl in parts:
        m.update(torch.tensor(p[sl]), torch.tensor(t[sl]))
    m.update(torch.tensor(p[:1]), torch.tensor(t[:1]))  # one row: no pair, skipped
    expected = np.mean([np_xauc_all_pairs(p[sl], t[sl]) for sl in parts])
    assert m.compute().item() == pytest.approx(expected, abs=1e-6)


def test_grouped_xauc_weights_groups_by_size():
    p, t, g = _watch_times(3, 240)
    g[0] = 99  # a group of one row: no pair, left out
    m = GroupedXAUC(grouping_key="user_id", max_pairs_per_group=10_000)
    m.update(torch.tensor(p), torch.tensor(t), grouping_key=torch.tensor(g))
    num = den = 0.0
    for group in np.unique(g):
        rows = g == group
        if rows.sum() < 2:
            continue
        num += rows.sum() * np_xauc_all_pairs(p[rows], t[rows])
        den += rows.sum()
    assert m.compute().item() == pytest.approx(num / den, abs=1e-6)
    sampled = GroupedXAUC(grouping_key="user_id")  # default 100 pairs per group
    sampled.update(torch.tensor(p), torch.tensor(t), grouping_key=torch.tensor(g))
    assert sampled.compute().item() == pytest.approx(num / den, abs=0.05)


def _np_grouped_auc(p, y, g):
    aucs = [
        np_pair_auc(p[g == k], y[g == k] >= 0.5, np.ones((g == k).sum()))
        for k in np.unique(g)
        if 0 < y[g == k].sum() < (g == k).sum()
    ]
    return float(np.mean(aucs))


def _np_ne(p, y):
    ce = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()
    r = y.mean()
    return ce / -(r * np.log(r) + (1 - r) * np.log(1 - r))


@pytest.mark.parametrize(
    "metric, reference",
    [(lambda: GroupedAUC("user_id"), _np_grouped_auc), (NormalizedEntropy, _np_ne)],
    ids=["grouped_auc", "normalized_entropy"],
)
def test_train_grouped_auc_and_ne_decay_their_windows(metric, reference):
    rng = np.random.default_rng(4)
    y = (rng.random(1200) < 0.3).astype(float)
    p = 1 / (1 + np.exp(-(rng.normal(size=1200) + y)))
    g = rng.integers(0, 15, 1200)
    w = TrainMetricWrapper(metric(), decay_rate=0.6, decay_step=2)
    windows = []
    for k in range(0, 1200, 200):  # six batches of 200: three windows
        sl = slice(k, k + 200)
        w.update(torch.tensor(p[sl]), torch.tensor(y[sl]), None, torch.tensor(g[sl]))
        if k % 400 == 200:
            sl = slice(k - 200, k + 200)
            args = (
                (p[sl], y[sl], g[sl])
                if reference is _np_grouped_auc
                else (p[sl], y[sl])
            )
            windows.append(reference(*args))
    expected = windows[0]
    for value in windows[1:]:
        expected = 0.6 * expected + 0.4 * value
    assert w.compute().item() == pytest.approx(expected, abs=1e-5)
    assert not math.isclose(expected, windows[-1], abs_tol=1e-3)  # decay matters

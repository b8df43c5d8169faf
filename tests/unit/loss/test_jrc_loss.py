"""jrc_loss against a direct per-session softmax, and its task plumbing."""

import pytest
import torch
import torch.nn.functional as F

from tzrec.loss.jrc_loss import jrc_loss, session_index
from tzrec.loss.spec import build_loss_specs
from tzrec.protos import loss_pb2


def _brute(logits, label, session, alpha):
    """The paper's GE term, one session at a time (O(B^2), obviously right)."""
    ce = F.cross_entropy(logits, label, reduction="none")
    ge = torch.zeros(len(label))
    for i in range(len(label)):
        same = session == session[i]
        if label[i] == 1:
            comp = same & (label == 0)
            col = 1
        else:
            comp = same & (label == 1)
            col = 0
        others = logits[comp, col]
        all_ = torch.cat([logits[i, col].view(1), others])
        ge[i] = -(logits[i, col] - torch.logsumexp(all_, 0))
    return alpha * ce + (1 - alpha) * ge


def test_matches_per_session_softmax():
    torch.manual_seed(0)
    n = 64
    logits = torch.randn(n, 2)
    label = torch.randint(0, 2, (n,))
    session = torch.randint(100, 110, (n,)) * 7  # arbitrary, non-dense ids
    got = jrc_loss(logits, label, session, 0.3)
    assert torch.allclose(got, _brute(logits, label, session, 0.3), atol=1e-5)


def test_lone_row_has_no_session_term():
    logits = torch.tensor([[0.2, -0.4], [1.0, 2.0]])
    label = torch.tensor([1, 0])
    got = jrc_loss(logits, label, torch.tensor([1, 2]), 0.0)
    assert torch.allclose(got, torch.zeros(2), atol=1e-6)


def test_session_index_is_dense_and_consistent():
    idx = session_index(torch.tensor([50, -3, 50, 7, -3]))
    assert idx.tolist()[0] == idx.tolist()[2] and idx.tolist()[1] == idx.tolist()[4]
    assert sorted(set(idx.tolist())) == [0, 1, 2]


def test_gradients_flow():
    logits = torch.randn(16, 2, requires_grad=True)
    jrc_loss(
        logits, torch.randint(0, 2, (16,)), torch.arange(16) // 4, 0.5
    ).mean().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "num_class, session, alpha, problem",
    [
        (1, "user_id", 0.5, "jrc_loss needs num_class 2"),
        (2, "", 0.5, "jrc_loss needs session_name"),
        (2, "user_id", 1.5, "alpha must be in [0, 1]"),
        (2, "user_id", 0.5, None),
    ],
)
def test_spec_checks(num_class, session, alpha, problem):
    cfg = loss_pb2.LossConfig(
        jrc_loss=loss_pb2.JRCLoss(session_name=session, alpha=alpha)
    )
    specs, errors = build_loss_specs([cfg], num_class, "_ctr", "t.losses")
    if problem is None:
        assert not errors and specs[0].name == "jrc_loss_ctr"
        assert specs[0].pred_key == "logits_ctr" and specs[0].session_name == "user_id"
    else:
        assert problem in errors[0].one_line()

import math

import pytest
import torch

from mmsemi.models.utils import PseudoLabels, pseudo_labels_from_logits


def _logits():
    """(1, 2, 2, 2) logits; per pixel (class 0, class 1):

    (0,0): (0, 0)  -> conf 0.5 exactly (tie -> class 0)
    (0,1): (1, 3)  -> conf sigmoid(2) = 0.8808, class 1
    (1,0): (2, 0)  -> conf sigmoid(2) = 0.8808, class 0
    (1,1): (0, -1) -> conf sigmoid(1) = 0.7311, class 0
    """
    c0 = torch.tensor([[0., 1.], [2., 0.]])
    c1 = torch.tensor([[0., 3.], [0., -1.]])
    return torch.stack([c0, c1])[None]


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def test_labels_conf_and_threshold_boundary():
    logits = _logits().requires_grad_()
    out = pseudo_labels_from_logits(logits, 0.5)
    assert isinstance(out, PseudoLabels)
    assert torch.equal(out.labels, torch.tensor([[[0, 1], [0, 0]]]))
    assert out.labels.dtype == torch.long
    expected_conf = torch.tensor([[[0.5, sigmoid(2)], [sigmoid(2),
                                                       sigmoid(1)]]])
    torch.testing.assert_close(out.conf, expected_conf)
    # conf == threshold exactly (0.5) is kept: '>=' semantics.
    assert out.conf[0, 0, 0].item() == 0.5
    assert torch.equal(out.mask, torch.ones(1, 2, 2, dtype=torch.bool))

    high = pseudo_labels_from_logits(logits, 0.8)
    assert torch.equal(high.mask, torch.tensor([[[False, True],
                                                 [True, False]]]))
    # Outputs are targets: no graph back to the logits.
    for t in out:
        assert not t.requires_grad and t.grad_fn is None


def test_valid_mask_and_tensor_thresholds():
    logits = _logits()
    valid = torch.tensor([[[True, True], [False, True]]])
    out = pseudo_labels_from_logits(logits, torch.tensor(0.5), valid)
    assert torch.equal(out.mask, valid)
    # Padding stays unselected even at threshold 0, labels are unaffected.
    zero = pseudo_labels_from_logits(logits, 0.0, valid)
    assert torch.equal(zero.mask, valid)
    assert torch.equal(zero.labels, torch.tensor([[[0, 1], [0, 0]]]))

    two = torch.cat([logits, logits])
    per_image = torch.tensor([0.5, 0.8]).view(2, 1, 1)
    out2 = pseudo_labels_from_logits(two, per_image)
    assert torch.equal(out2.mask[0], torch.ones(2, 2, dtype=torch.bool))
    assert torch.equal(out2.mask[1], torch.tensor([[False, True],
                                                   [True, False]]))


def test_half_precision_and_bad_input():
    out = pseudo_labels_from_logits(_logits().half(), 0.5)
    assert out.conf.dtype == torch.float32
    with pytest.raises(ValueError, match='broadcastable'):
        pseudo_labels_from_logits(_logits(), torch.tensor([0.5, 0.9]))
    with pytest.raises(ValueError, match='valid must have shape'):
        pseudo_labels_from_logits(_logits(), 0.5,
                                  torch.ones(1, 3, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match='bool'):
        pseudo_labels_from_logits(_logits(), 0.5, torch.ones(1, 2, 2))
    with pytest.raises(ValueError, match=r'\(N, K, H, W\)'):
        pseudo_labels_from_logits(torch.zeros(2, 2, 2), 0.5)

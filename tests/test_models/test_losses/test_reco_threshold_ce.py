"""ReCo's confidence-fraction weighted CE (spec §12.16)."""
import pytest
import torch
import torch.nn.functional as F

import mmsemi.models  # noqa: F401
from mmsemi.models.losses import reco_fraction_cross_entropy


def test_hand_computed_value():
    # one image, 4 pixels, 2 classes; pixel 3 ignored but confident
    logits = torch.tensor([[[[2., 0.], [0., 1.]],
                            [[0., 0.], [1., 1.]]]])  # (1, 2, 2, 2)
    target = torch.tensor([[[0, 1], [1, 255]]])
    conf = torch.tensor([[[0.99, 0.5], [0.98, 0.99]]])
    ce = [-F.log_softmax(torch.tensor([2., 0.]), 0)[0],
          -F.log_softmax(torch.tensor([0., 0.]), 0)[1],
          -F.log_softmax(torch.tensor([0., 1.]), 0)[1]]
    w = 3 / 3  # 3 confident pixels (the ignored one too) / 3 labelled
    expected = w * sum(ce) / 3
    value = reco_fraction_cross_entropy(logits, target, conf, 0.97)
    assert float(value) == pytest.approx(float(expected), rel=1e-6)


def test_weight_can_exceed_one_and_is_per_image():
    logits = torch.zeros(2, 3, 2, 2)
    target = torch.tensor([[[0, 255], [255, 255]], [[1, 1], [1, 1]]])
    conf = torch.tensor([[[1., 1.], [1., 1.]], [[1., 0.], [0., 0.]]])
    ce = torch.log(torch.tensor(3.))
    # image 0: w = 4 / 1 on one pixel, image 1: w = 1 / 4 on four pixels
    expected = (4 * ce + 4 * 0.25 * ce) / 5
    value = reco_fraction_cross_entropy(logits, target, conf, 0.97)
    assert float(value) == pytest.approx(float(expected), rel=1e-6)


def test_all_confident_is_plain_ce():
    logits = torch.randn(2, 4, 3, 3)
    target = torch.randint(0, 4, (2, 3, 3))
    conf = torch.ones(2, 3, 3)
    torch.testing.assert_close(
        reco_fraction_cross_entropy(logits, target, conf, 0.97),
        F.cross_entropy(logits, target))


def test_all_ignored_is_zero_not_nan():
    logits = torch.randn(2, 4, 3, 3, requires_grad=True)
    target = torch.full((2, 3, 3), 255)
    value = reco_fraction_cross_entropy(logits, target, torch.ones(2, 3, 3),
                                        0.97)
    assert float(value) == 0.0
    value.backward()
    assert not logits.grad.any()


def test_unreachable_threshold_gives_zero():
    """Cross mode with tau = 0.5: conf_rep <= 0.732 < 0.97."""
    logits = torch.randn(1, 21, 4, 4)
    target = torch.randint(0, 21, (1, 4, 4))
    value = reco_fraction_cross_entropy(
        logits, target, torch.full((1, 4, 4), 0.73), 0.97)
    assert float(value) == 0.0

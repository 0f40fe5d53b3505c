import math

import pytest
import torch

from mmseg.registry import MODELS
from mmsemi.models.losses import (CorrelationLoss, masked_cross_entropy,
                                  masked_kl_div)

# Logits of shape (N, K, H, W) = (1, 2, 1, 2):
#   pixel A: (0, 0), target 1 -> ce_A = -log(1/2)             = log 2
#   pixel B: (1, 0), target 0 -> ce_B = -log(e / (e + 1))     = log(1 + e^-1)
CE_A = math.log(2)
CE_B = math.log(1 + math.exp(-1))


def _logits(requires_grad=False):
    return torch.tensor([[[[0., 1.]], [[0., 0.]]]],
                        requires_grad=requires_grad)


TARGET = torch.tensor([[[1, 0]]])


def _ce(mask, normalize, valid=None, target=TARGET, logits=None):
    logits = _logits() if logits is None else logits
    return masked_cross_entropy(logits, target, mask, normalize, valid)


@pytest.mark.parametrize('normalize, expected', [
    ('valid', (0.5 * CE_A + CE_B) / 2),
    ('mask', (0.5 * CE_A + CE_B) / 1.5),
    ('all', (0.5 * CE_A + CE_B) / 2),
])
def test_ce_float_weights_all_modes(normalize, expected):
    mask = torch.tensor([[[0.5, 1.0]]])
    assert _ce(mask, normalize).item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize('normalize, expected', [
    ('valid', CE_A / 1),  # one valid pixel
    ('mask', CE_A / 1),  # mask * valid = [1, 0]
    ('all', CE_A / 2),  # N * H * W = 2
])
def test_ce_bool_mask_with_valid(normalize, expected):
    mask = torch.tensor([[[True, True]]])
    valid = torch.tensor([[[True, False]]])
    assert _ce(mask, normalize, valid).item() == pytest.approx(
        expected, rel=1e-6)


@pytest.mark.parametrize('normalize, expected', [
    ('valid', CE_A / 2),
    ('mask', CE_A / 1),
    ('all', CE_A / 2),
])
def test_ce_ignore_value_under_zero_mask(normalize, expected):
    # 255 is not a class; it sits where the mask is 0 and must not crash.
    target = torch.tensor([[[1, 255]]])
    mask = torch.tensor([[[True, False]]])
    logits = _logits(requires_grad=True)
    loss = _ce(mask, normalize, target=target, logits=logits)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert torch.all(logits.grad[..., 1] == 0)
    # d ce_A / d z = softmax - onehot(1) = (0.5, -0.5), divided by D.
    denom = CE_A / expected
    torch.testing.assert_close(logits.grad[0, :, 0, 0],
                               torch.tensor([0.5, -0.5]) / denom)


def test_mask_denominator_clamped_to_one():
    # Weights sum to 0.5 < 1: 'mask' divides by 1, not by 0.5.
    mask = torch.tensor([[[0.5, 0.0]]])
    assert _ce(mask, 'mask').item() == pytest.approx(0.5 * CE_A, rel=1e-6)


@pytest.mark.parametrize('normalize', ['valid', 'mask', 'all'])
def test_empty_mask_gives_exact_zero_and_zero_grad(normalize):
    target = torch.tensor([[[255, 255]]])
    for valid in (None, torch.zeros(1, 1, 2, dtype=torch.bool)):
        logits = _logits(requires_grad=True)
        loss = _ce(torch.zeros(1, 1, 2, dtype=torch.bool), normalize, valid,
                   target, logits)
        assert loss.item() == 0.0
        loss.backward()
        assert torch.equal(logits.grad, torch.zeros_like(logits))

        logits = _logits(requires_grad=True)
        kl = masked_kl_div(logits, torch.full((1, 2, 1, 2), 0.5),
                           torch.zeros(1, 1, 2), normalize, valid)
        assert kl.item() == 0.0
        kl.backward()
        assert torch.equal(logits.grad, torch.zeros_like(logits))


def test_kl_identical_distributions_is_zero():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 3, 3, generator=g)
    kl = masked_kl_div(logits, logits.softmax(1), torch.ones(2, 3, 3))
    assert abs(kl.item()) < 1e-6


def test_kl_hand_example_and_gradient_only_into_logits():
    # pixel A: p = (1/2, 1/2), t = (1/4, 3/4):
    #   KL = 1/4 log(1/2) + 3/4 log(3/2)
    # pixel B: p = (e/(e+1), 1/(e+1)), t = (1, 0) (0 log 0 = 0):
    #   KL = -log(e/(e+1)) = log(1 + e^-1)
    kl_a = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    kl_b = math.log(1 + math.exp(-1))
    logits = _logits(requires_grad=True)
    target = torch.tensor([[[[0.25, 1.0]], [[0.75, 0.0]]]],
                          requires_grad=True)
    mask = torch.tensor([[[True, True]]])
    for normalize, denom in (('valid', 2), ('mask', 2), ('all', 2)):
        value = masked_kl_div(logits, target, mask, normalize)
        assert value.item() == pytest.approx((kl_a + kl_b) / denom, rel=1e-6)

    only_a = torch.tensor([[[1.0, 0.0]]])
    expected = {'valid': kl_a / 2, 'mask': kl_a / 1, 'all': kl_a / 2}
    for normalize, value in expected.items():
        assert masked_kl_div(logits, target, only_a,
                             normalize).item() == pytest.approx(value,
                                                                rel=1e-6)

    loss = masked_kl_div(logits, target, only_a, 'valid')
    loss.backward()
    assert target.grad is None
    # d KL / d z = p - t at pixel A, divided by 2 valid pixels; 0 at B.
    torch.testing.assert_close(logits.grad[0, :, 0, 0],
                               torch.tensor([0.25, -0.25]) / 2)
    assert torch.all(logits.grad[..., 1] == 0)


def test_removed_module_forms_are_not_registered():
    """The methods call the functions; a config naming the old module
    forms fails at build time instead of training something else."""
    for name in ('MaskedCrossEntropyLoss', 'MaskedKLDivLoss',
                 'ReCoThresholdCELoss'):
        assert MODELS.get(name) is None


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match='normalize'):
        CorrelationLoss(normalize='sum')
    with pytest.raises(ValueError, match="start with 'loss_'"):
        CorrelationLoss(loss_name='corr')
    with pytest.raises(ValueError, match='normalize'):
        _ce(torch.ones(1, 1, 2), 'mean')
    with pytest.raises(ValueError, match='mask must have shape'):
        _ce(torch.ones(1, 2, 1), 'valid')
    with pytest.raises(ValueError, match='target must have shape'):
        _ce(torch.ones(1, 1, 2), 'valid', target=torch.zeros(1, 2, 1).long())
    with pytest.raises(ValueError, match='target_probs'):
        masked_kl_div(_logits(), torch.ones(1, 2, 2, 1), torch.ones(1, 1, 2))

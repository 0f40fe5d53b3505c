"""CorrelationHead and CorrelationLoss (CorrMatch spec §2.2, §3, §4;
properties §13.1-5)."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from _tiny import NUM_CLASSES, tiny_segmentor_cfg

from mmseg.registry import MODELS
from mmsemi.models.decode_heads import CorrelationHead
from mmsemi.models.losses import CorrelationLoss, masked_cross_entropy


def _head(in_channels=6, channels=5, d=4, seed=0):
    torch.manual_seed(seed)
    head = CorrelationHead(in_channels, channels=channels, corr_channels=d)
    return head.eval()


def test_registered_and_layout():
    head = MODELS.build(dict(type='CorrelationHead', in_channels=8,
                             channels=4, corr_channels=3))
    conv, bn, relu, drop = head.proj
    assert conv.kernel_size == (3, 3) and conv.padding == (1, 1)
    assert conv.bias is not None and conv.out_channels == 4
    assert isinstance(bn, nn.BatchNorm2d) and isinstance(relu, nn.ReLU)
    assert isinstance(drop, nn.Dropout2d) and drop.p == 0.1
    for conv1x1 in (head.conv1, head.conv2):
        assert conv1x1.kernel_size == (1, 1) and conv1x1.bias is not None
        assert conv1x1.out_channels == 3
    with pytest.raises(ValueError, match='corr_channels'):
        CorrelationHead(8, channels=4)


def test_correlation_is_row_stochastic():
    """§13.1: (N, n, n), entries in (0, 1), rows sum to 1, columns not."""
    head = _head()
    corr = head(torch.randn(2, 6, 3, 4))
    assert corr.shape == (2, 12, 12)
    assert bool((corr > 0).all()) and bool((corr < 1).all())
    torch.testing.assert_close(corr.sum(-1), torch.ones(2, 12), atol=1e-5,
                               rtol=0)
    assert not torch.allclose(corr.sum(-2), torch.ones(2, 12), atol=1e-3)


def test_correlation_hand_computed_scale_inside_softmax():
    """§13.2: C = softmax(w1^T w2 / sqrt(D)). With proj = identity, one
    channel, D = 4 and all-ones 1x1 convs, w1 = w2 = (f, f, f, f), so
    A[i, j] = 4 f_i f_j / 2. f = (0, 1): A = [[0, 0], [0, 2]]."""
    head = CorrelationHead(1, channels=1, corr_channels=4).eval()
    head.proj = nn.Identity()
    with torch.no_grad():
        for conv in (head.conv1, head.conv2):
            conv.weight.fill_(1.)
            conv.bias.zero_()
    corr = head(torch.tensor([[[[0., 1.]]]]))
    e2 = math.exp(2)
    expected = torch.tensor([[[0.5, 0.5], [1 / (1 + e2), e2 / (1 + e2)]]])
    torch.testing.assert_close(corr, expected)
    # Scale outside the softmax (paper Eq. 4) would give rows summing to
    # 1/2 and row 1 = softmax([0, 4]) / 2: clearly different.
    assert not torch.allclose(corr[0, 1], torch.softmax(
        torch.tensor([0., 4.]), 0) / 2, atol=1e-2)


def test_correlation_matches_reference_implementation():
    """§13.2 on random weights, train-mode BN and no dropout."""
    head = _head()
    head.train()
    head.proj[3].p = 0.0
    feat = torch.randn(2, 6, 3, 3)
    corr = head(feat)
    x = head.proj(feat)
    w1 = head.conv1(x).reshape(2, 4, 9)
    w2 = head.conv2(x).reshape(2, 4, 9)
    ref = torch.softmax(
        torch.einsum('bdi,bdj->bij', w1, w2) / math.sqrt(4), dim=-1)
    torch.testing.assert_close(corr, ref)


def test_propagate_contracts_over_row_index_hand_computed():
    """z[k, j] = sum_i L[k, i] C[i, j], not sum_j C[i, j] L[k, j]."""
    head = _head()
    corr = torch.tensor([[[1.0, 0.0], [0.5, 0.5]]])  # row-stochastic
    logits = torch.tensor([[[[2.0, 4.0]], [[1.0, -1.0]]]])  # (1, 2, 1, 2)
    z = head.propagate(corr, logits, feat_size=(1, 2))
    # class 0: (2*1 + 4*0.5, 2*0 + 4*0.5) = (4, 2)
    # class 1: (1*1 - 1*0.5, 0 - 0.5) = (0.5, -0.5)
    expected = torch.tensor([[[[4.0, 2.0]], [[0.5, -0.5]]]])
    torch.testing.assert_close(z, expected)


def test_propagate_resizes_logits_with_align_corners():
    """Logits (5x5) are resized to the feature size (3x3) first; with
    C = I the result is exactly the align_corners=True resize (§13.4)."""
    head = _head()
    logits = torch.randn(2, 3, 5, 5)
    eye = torch.eye(9).expand(2, 9, 9)
    z = head.propagate(eye, logits)  # square n = 9 inferred
    torch.testing.assert_close(z, logits[:, :, ::2, ::2])
    with pytest.raises(ValueError, match='square'):
        head.propagate(torch.eye(6)[None], logits)


def test_propagate_mass_conservation_and_linearity():
    """§13.3: sum_j z[k, j] = sum_i L[k, i]; §13.4: linear in L; huge
    diagonal affinities (C ~ I) give z ~ L."""
    head = _head()
    corr = head(torch.randn(2, 6, 3, 4))
    l1, l2 = torch.randn(2, 5, 3, 4), torch.randn(2, 5, 3, 4)
    z1 = head.propagate(corr, l1, (3, 4))
    z2 = head.propagate(corr, l2, (3, 4))
    torch.testing.assert_close(z1.sum((2, 3)), l1.sum((2, 3)), atol=1e-5,
                               rtol=1e-5)
    z = head.propagate(corr, 2.0 * l1 - 3.0 * l2, (3, 4))
    torch.testing.assert_close(z, 2.0 * z1 - 3.0 * z2, atol=1e-5,
                               rtol=1e-5)
    near_eye = torch.softmax(torch.eye(12) * 100, dim=-1).expand(2, 12, 12)
    torch.testing.assert_close(
        head.propagate(near_eye, l1, (3, 4)), l1, atol=1e-5, rtol=0)


def test_correlation_loss_upsamples_and_reuses_masked_ce():
    loss = MODELS.build(dict(type='CorrelationLoss', loss_weight=0.5))
    assert isinstance(loss, CorrelationLoss) and loss.loss_name == 'loss_corr'
    prop = torch.randn(2, 3, 3, 3)
    target = torch.randint(0, 3, (2, 5, 5))
    mask = torch.rand(2, 5, 5) > 0.5
    valid = torch.ones(2, 5, 5, dtype=torch.bool)
    valid[:, -1] = False
    up = F.interpolate(prop, (5, 5), mode='bilinear', align_corners=True)
    expected = 0.5 * masked_cross_entropy(up, target, mask, 'valid', valid)
    torch.testing.assert_close(loss(prop, target, mask, valid), expected)
    # align_corners=True: the corner samples survive the upsampling.
    torch.testing.assert_close(up[:, :, ::2, ::2], prop)


def test_correlation_loss_gradients_never_reach_decode_head():
    """§13.5 on the tiny DeepLabV3+: the correlation loss trains proj, the
    corr convs and the backbone, never ASPP/decoder/classifier."""
    torch.manual_seed(0)
    seg = MODELS.build(tiny_segmentor_cfg())
    seg.train()
    head = CorrelationHead(32, channels=8, corr_channels=NUM_CLASSES)
    head.train()
    x = torch.randn(2, 3, 33, 33)
    feats = seg.extract_feat(x)
    logits = F.interpolate(seg.decode_head(feats), (33, 33),
                           mode='bilinear', align_corners=True)
    c4 = feats[3]
    corr = head(c4)
    prop = head.propagate(corr, logits, c4.shape[2:])
    target = torch.randint(0, NUM_CLASSES, (2, 33, 33))
    mask = torch.ones(2, 33, 33, dtype=torch.bool)
    CorrelationLoss()(prop, target, mask).backward()
    for name, p in seg.decode_head.named_parameters():
        assert p.grad is None or not p.grad.any(), name
    for module in (head.proj[0], head.proj[1], head.conv1, head.conv2):
        assert module.weight.grad is not None
        assert module.weight.grad.abs().sum() > 0
    backbone_grads = [p.grad for p in seg.backbone.parameters()
                      if p.grad is not None]
    assert backbone_grads
    assert sum(g.abs().sum() for g in backbone_grads) > 0

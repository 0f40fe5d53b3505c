import torch

from mmseg.registry import MODELS

import mmsemi.models  # noqa: F401
from _head_oracles import official_forward_with_perturbation
from _tiny import NUM_CLASSES, tiny_segmentor_cfg


def _segmentor():
    torch.manual_seed(0)
    return MODELS.build(tiny_segmentor_cfg())


def test_features_and_logits_shapes():
    seg = _segmentor().eval()
    feats = seg.extract_feat(torch.randn(2, 3, 32, 32))
    head = seg.decode_head
    # stride-4 first stage: 8x8 maps, `channels` features, K logits
    assert head.forward_features(feats).shape == (2, 8, 8, 8)
    assert head(feats).shape == (2, NUM_CLASSES, 8, 8)
    assert head.dropout is None  # no classifier dropout by default
    assert head.align_corners


def test_perturbed_decode_keeps_clean_half_equal_to_plain_forward():
    seg = _segmentor().eval()
    feats = seg.extract_feat(torch.randn(2, 3, 32, 32))
    head = seg.decode_head
    clean, perturbed = official_forward_with_perturbation(
        head, feats, dropout=0.5)
    torch.testing.assert_close(clean, head(feats))
    assert not torch.allclose(clean, perturbed)


def test_zero_dropout_makes_both_halves_identical_in_train_mode():
    # BN in train mode sees the doubled batch; with nothing dropped both
    # halves are the same samples, so the outputs must match exactly.
    seg = _segmentor().train()
    feats = seg.extract_feat(torch.randn(2, 3, 32, 32))
    clean, perturbed = official_forward_with_perturbation(
        seg.decode_head, feats, dropout=0.0)
    torch.testing.assert_close(clean, perturbed)


def test_full_dropout_decodes_zero_features():
    seg = _segmentor().eval()
    feats = seg.extract_feat(torch.randn(2, 3, 32, 32))
    head = seg.decode_head
    _, perturbed = official_forward_with_perturbation(
        head, feats, dropout=1.0)
    zeros = [torch.zeros_like(f) for f in feats]
    torch.testing.assert_close(perturbed, head(zeros))


def test_separable_variant_builds_depthwise_convs():
    cfg = tiny_segmentor_cfg()
    cfg['decode_head']['separable'] = True
    seg = MODELS.build(cfg).eval()
    kinds = {type(m).__name__ for m in seg.decode_head.modules()}
    assert 'DepthwiseSeparableConvModule' in kinds
    assert seg.decode_head(seg.extract_feat(torch.randn(1, 3, 32, 32))
                           ).shape == (1, NUM_CLASSES, 8, 8)

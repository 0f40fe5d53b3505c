"""DPT heads as students: UniMatch V2's DPT head against a re-statement of
the official forward, mmseg's stock ``DPTHead`` on mmseg ViT's ``[map,
cls_token]`` pairs, the feature-form helpers, the build-time checks and a
two-step run of every method on both heads."""
import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmseg.registry import MODELS

import mmsemi.models  # noqa: F401
from _tiny import (METHODS_AT_THRESHOLD_0 as METHODS, NUM_CLASSES,
                   TINY_SEGMENTOR, train_steps_at_threshold_0,
                   unimatch_batch)
from mmsemi.models.decode_heads.unimatch_v2_dpt_head import DPT_WIDTHS
from mmsemi.models.utils import (check_segmentor, decode_with_features,
                                 decode_with_perturbation)
from mmsemi.models.utils.decode_head_streams import (feature_map,
                                                     feature_rows,
                                                     map_feature)

EMBED = 16
WIDTHS = [4, 6, 8, 10]  # post_process_channels
FEATURES = 8  # fused width (official ``features``, mmseg ``channels``)


# ----------------------------------------------------------------------
# the official forward (model/semseg/dpt.py, model/util/blocks.py),
# restated with its own parameter names
class _OfficialRCU(nn.Module):

    def __init__(self, features):
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, 1, 1, bias=True)
        self.conv2 = nn.Conv2d(features, features, 3, 1, 1, bias=True)
        self.activation = nn.ReLU(False)

    def forward(self, x):
        out = self.activation(x)
        out = self.conv1(out)
        out = self.activation(out)
        out = self.conv2(out)
        return out + x


class _OfficialFusion(nn.Module):

    def __init__(self, features):
        super().__init__()
        self.out_conv = nn.Conv2d(features, features, 1, 1, 0, bias=True)
        self.resConfUnit1 = _OfficialRCU(features)
        self.resConfUnit2 = _OfficialRCU(features)

    def forward(self, *xs, size=None):
        output = xs[0]
        if len(xs) == 2:
            res = self.resConfUnit1(xs[1])
            output = output + res
        output = self.resConfUnit2(output)
        modifier = {'scale_factor': 2} if size is None else {'size': size}
        output = F.interpolate(output, **modifier, mode='bilinear',
                               align_corners=True)
        return self.out_conv(output)


class _OfficialDPT(nn.Module):
    """``DPTHead`` and the head part of ``DPT.forward`` (without the
    encoder and without comp_drop)."""

    def __init__(self, nclass, in_channels, features, out_channels):
        super().__init__()
        self.projects = nn.ModuleList([
            nn.Conv2d(in_channels, c, 1, 1, 0) for c in out_channels])
        self.resize_layers = nn.ModuleList([
            nn.ConvTranspose2d(out_channels[0], out_channels[0], 4, 4, 0),
            nn.ConvTranspose2d(out_channels[1], out_channels[1], 2, 2, 0),
            nn.Identity(),
            nn.Conv2d(out_channels[3], out_channels[3], 3, 2, 1)])
        scratch = nn.Module()
        for i, c in enumerate(out_channels, 1):
            setattr(scratch, f'layer{i}_rn',
                    nn.Conv2d(c, features, 3, 1, 1, bias=False))
        for i in range(1, 5):
            setattr(scratch, f'refinenet{i}', _OfficialFusion(features))
        scratch.output_conv = nn.Sequential(
            nn.Conv2d(features, features, 3, 1, 1), nn.ReLU(True),
            nn.Conv2d(features, nclass, 1, 1, 0))
        self.scratch = scratch

    def head(self, out_features, patch_h, patch_w):
        out = []
        for i, x in enumerate(out_features):
            x = x.permute(0, 2, 1).reshape(
                (x.shape[0], x.shape[-1], patch_h, patch_w))
            x = self.projects[i](x)
            x = self.resize_layers[i](x)
            out.append(x)
        layer_1, layer_2, layer_3, layer_4 = out
        s = self.scratch
        layer_1_rn = s.layer1_rn(layer_1)
        layer_2_rn = s.layer2_rn(layer_2)
        layer_3_rn = s.layer3_rn(layer_3)
        layer_4_rn = s.layer4_rn(layer_4)
        path_4 = s.refinenet4(layer_4_rn, size=layer_3_rn.shape[2:])
        path_3 = s.refinenet3(path_4, layer_3_rn,
                              size=layer_2_rn.shape[2:])
        path_2 = s.refinenet2(path_3, layer_2_rn,
                              size=layer_1_rn.shape[2:])
        path_1 = s.refinenet1(path_2, layer_1_rn)
        return s.output_conv(path_1)

    def forward(self, tokens, patch_h, patch_w):
        """``DPT.forward`` after the encoder: tokens ``(N, hw, C)`` per
        level -> logits ``(N, K, 14 patch_h, 14 patch_w)``."""
        out = self.head(tokens, patch_h, patch_w)
        return F.interpolate(out, (patch_h * 14, patch_w * 14),
                             mode='bilinear', align_corners=True)


def _official_to_mmsemi(name: str) -> str:
    """Official parameter name -> :class:`UniMatchV2DPTHead`'s."""
    name = name.replace('scratch.output_conv.0.', 'output_conv.')
    name = name.replace('scratch.output_conv.2.', 'conv_seg.')
    for i in range(1, 5):
        name = name.replace(f'scratch.layer{i}_rn.', f'level_convs.{i - 1}.')
        # refinenet4 fuses the deepest level first
        name = name.replace(f'scratch.refinenet{i}.',
                            f'fusion_blocks.{4 - i}.')
    return name.replace('resConfUnit1.', 'unit1.').replace(
        'resConfUnit2.', 'unit2.')


def _v2_head(**kwargs):
    cfg = dict(type='UniMatchV2DPTHead', in_channels=EMBED,
               channels=FEATURES, post_process_channels=WIDTHS,
               num_classes=NUM_CLASSES,
               loss_decode=dict(type='CrossEntropyLoss'))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def _official_with_weights_of(head):
    """An official head holding ``head``'s weights (its unused
    ``refinenet4.resConfUnit1`` keeps its own)."""
    torch.manual_seed(3)
    official = _OfficialDPT(NUM_CLASSES, EMBED, FEATURES, WIDTHS)
    ours = head.state_dict()
    copied = {}
    for name, value in official.state_dict().items():
        if name.startswith('scratch.refinenet4.resConfUnit1.'):
            continue
        copied[name] = ours[_official_to_mmsemi(name)]
    official.load_state_dict(copied, strict=False)
    assert len(copied) == len(ours)  # every parameter of ours is used
    return official


@pytest.mark.parametrize('grid', [(5, 3), (4, 6)])
def test_v2_head_equals_the_official_forward(grid):
    """Same weights, same patch-grid features: the official DPT forward
    (head, then bilinear ``align_corners=True`` to 14x the grid) equals the
    head's logits ``(N, K, 8h, 8w)`` resized by mmseg's
    ``predict_by_feat`` to the input size ``(14h, 14w)``."""
    torch.manual_seed(0)
    head = _v2_head().eval()
    for p in head.parameters():  # away from the init (conv_seg std 0.01)
        nn.init.normal_(p, std=0.2)
    official = _official_with_weights_of(head).eval()
    h, w = grid
    maps = [torch.randn(2, EMBED, h, w) for _ in range(4)]
    tokens = [m.flatten(2).transpose(1, 2) for m in maps]  # (N, hw, C)
    with torch.no_grad():
        logits = head(maps)
        expected_head = official.head(tokens, h, w)
        expected = official(tokens, h, w)
        resized = head.predict_by_feat(
            logits, [dict(img_shape=(14 * h, 14 * w))])
    assert logits.shape == (2, NUM_CLASSES, 8 * h, 8 * w)
    assert expected.shape == (2, NUM_CLASSES, 14 * h, 14 * w)
    torch.testing.assert_close(logits, expected_head, rtol=0, atol=1e-6)
    torch.testing.assert_close(resized, expected, rtol=0, atol=1e-6)
    assert expected.abs().max() > 0.1


@pytest.mark.parametrize('arch,embed', [('small', 384), ('base', 768),
                                        ('large', 1024)])
def test_v2_head_has_the_official_parameters(arch, embed):
    """``arch`` gives the official head of that DINOv2 size: every official
    parameter but the unused ``refinenet4.resConfUnit1`` has a counterpart
    of the same shape, and nothing else; no BN."""
    widths = DPT_WIDTHS[arch]
    head = MODELS.build(dict(type='UniMatchV2DPTHead', in_channels=embed,
                             arch=arch, num_classes=21))
    official = _OfficialDPT(21, embed, widths['channels'],
                            widths['post_process_channels'])
    expected = {_official_to_mmsemi(k): v.shape
                for k, v in official.state_dict().items()
                if not k.startswith('scratch.refinenet4.resConfUnit1.')}
    assert {k: v.shape for k, v in head.state_dict().items()} == expected
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm)
                   for m in head.modules())


def test_v2_head_widths_and_defaults():
    """The official widths (S/B/L) and defaults (no dropout before the
    classifier, ``align_corners=True``, PyTorch's default init)."""
    assert DPT_WIDTHS == {
        'small': dict(channels=64, post_process_channels=[48, 96, 192, 384]),
        'base': dict(channels=128,
                     post_process_channels=[96, 192, 384, 768]),
        'large': dict(channels=256,
                      post_process_channels=[256, 512, 1024, 1024])}
    head = _v2_head()
    assert head.dropout is None and head.align_corners
    assert head.init_cfg is None
    with pytest.raises(ValueError, match='not both'):
        _v2_head(arch='small')
    with pytest.raises(ValueError, match="'tiny' is not one of"):
        MODELS.build(dict(type='UniMatchV2DPTHead', in_channels=16,
                          arch='tiny', num_classes=2))


def test_v2_head_refuses_feature_pairs():
    head = _v2_head()
    pair = [torch.zeros(2, EMBED, 4, 4), torch.zeros(2, EMBED)]
    with pytest.raises(TypeError, match=r'UniMatchV2DPTHead reads feature '
                       r'maps.*output 0.*output_cls_token=False'):
        head([pair] * 4)


# ----------------------------------------------------------------------
# tiny ViT students
def _vit(output_cls_token: bool, patch_size: int = 8, size: int = 40):
    return dict(type='VisionTransformer', img_size=(size, size),
                patch_size=patch_size, embed_dims=EMBED, num_layers=4,
                num_heads=2, mlp_ratio=2, out_indices=(0, 1, 2, 3),
                final_norm=True, with_cls_token=True,
                output_cls_token=output_cls_token,
                interpolate_mode='bilinear')


def _stock_dpt_head():
    return dict(type='DPTHead', in_channels=(EMBED, ) * 4, channels=FEATURES,
                in_index=(0, 1, 2, 3), input_transform='multiple_select',
                embed_dims=EMBED, post_process_channels=WIDTHS,
                readout_type='project', patch_size=8,
                num_classes=NUM_CLASSES, norm_cfg=dict(type='BN'),
                align_corners=False,
                loss_decode=dict(type='CrossEntropyLoss'))


def _v2_head_cfg():
    return dict(type='UniMatchV2DPTHead', in_channels=EMBED,
                channels=FEATURES, post_process_channels=WIDTHS,
                num_classes=NUM_CLASSES,
                loss_decode=dict(type='CrossEntropyLoss'))


#: student -> (backbone, decode head): mmseg's ViT with [map, cls_token]
#: pairs and stock DPTHead; a ViT giving bare patch-grid maps (as a DINOv2
#: wrapper does) and UniMatch V2's head.
STUDENTS = {
    'stock_dpt': (lambda: _vit(True), _stock_dpt_head),
    'v2_dpt': (lambda: _vit(False), _v2_head_cfg),
}

#: Logits size on a 40x40 input (5x5 patch grid): V2 8 x the grid; stock
#: 16 x the stride-2 level (3x3), which it doubles four times.
OUTPUT_SIZE = {'stock_dpt': (48, 48), 'v2_dpt': (40, 40)}


def _segmentor_cfg(student: str, **changes) -> dict:
    backbone, head = (make() for make in STUDENTS[student])
    cfg = dict(type='EncoderDecoder',
               data_preprocessor=copy.deepcopy(
                   TINY_SEGMENTOR['data_preprocessor']),
               backbone=backbone, decode_head=head, train_cfg=dict(),
               test_cfg=dict(mode='whole'))
    cfg.update(changes)
    return cfg


def _feats(segmentor, size=40):
    torch.manual_seed(0)
    return segmentor.extract_feat(torch.randn(2, 3, size, size))


def test_feature_helpers_on_pairs_and_maps():
    """Rows and perturbation act on the batch of the map and of the class
    token; dropout hits the map only."""
    maps = torch.randn(4, 3, 2, 2)
    tokens = torch.randn(4, 3)
    pair = [maps, tokens]
    rows, = feature_rows([pair], slice(None, 2))
    assert torch.equal(rows[0], maps[:2]) and torch.equal(rows[1],
                                                          tokens[:2])
    bare, = feature_rows([maps], slice(1, 3))
    assert torch.equal(bare, maps[1:3])
    assert feature_map(pair) is maps and feature_map(maps) is maps
    doubled = map_feature(pair, lambda t: torch.cat([t, -t]),
                          lambda t: torch.cat([t, t]))
    assert torch.equal(doubled[0], torch.cat([maps, -maps]))
    assert torch.equal(doubled[1], torch.cat([tokens, tokens]))
    with pytest.raises(TypeError, match=r'a backbone output is a list of '
                       r'\[a tensor of shape \(4, 3, 2, 2\)\]; expected'):
        feature_rows([[maps]], slice(None, 1))


@pytest.mark.parametrize('student', sorted(STUDENTS))
def test_perturbation_stream_on_dpt_heads(student):
    """Clean half = the head's forward; perturbed half = the head on
    ``Dropout2d`` of every feature map in reading order, class tokens
    untouched (eval mode)."""
    segmentor = MODELS.build(_segmentor_cfg(student)).eval()
    head = segmentor.decode_head
    with torch.no_grad():
        feats = _feats(segmentor)
        torch.manual_seed(1)
        clean, perturbed = decode_with_perturbation(head, feats, 0.5)
        torch.manual_seed(1)
        dropped = [map_feature(f, lambda m: F.dropout2d(m, 0.5, True),
                               lambda t: t) for f in feats]
        expected = head(dropped)
        plain = head(feats)
    torch.testing.assert_close(clean, plain)
    torch.testing.assert_close(perturbed, expected)
    assert clean.shape == (2, NUM_CLASSES, *OUTPUT_SIZE[student])
    assert (perturbed - clean).abs().mean() > 1e-3 * clean.abs().mean()


@pytest.mark.parametrize('student', sorted(STUDENTS))
def test_decoder_features_of_dpt_heads(student):
    """The decoder feature is the classifier input, ``(N, channels)`` at
    the logits' size (stock: after ``project``; V2: ReLU of the 3x3 output
    conv)."""
    segmentor = MODELS.build(_segmentor_cfg(student)).eval()
    head = segmentor.decode_head
    with torch.no_grad():
        feats = _feats(segmentor)
        features, logits = decode_with_features(head, feats)
        torch.testing.assert_close(logits, head(feats))
        torch.testing.assert_close(logits, head.conv_seg(features))
        if student == 'v2_dpt':
            fused = head.fuse(head.levels(feats))
            torch.testing.assert_close(
                features, F.relu(head.output_conv(fused)))
    assert features.shape == (2, FEATURES, *OUTPUT_SIZE[student])


def test_stock_dpt_head_on_feature_maps_fails_at_build_time():
    """Bare maps would be taken apart along the batch by DPTHead."""
    cfg = _segmentor_cfg('stock_dpt', backbone=_vit(False))
    with pytest.raises(TypeError, match=r'UniMatch: decode head DPTHead '
                       r'reads \[feature map, class token\] pairs; '
                       r'VisionTransformer gives feature maps.*'
                       r'output_cls_token=True.*UniMatchV2DPTHead'):
        MODELS.build(dict(type='UniMatch', segmentor=cfg))


def test_map_heads_on_feature_pairs_fail_at_build_time():
    cfg = _segmentor_cfg('v2_dpt', backbone=_vit(True))
    with pytest.raises(TypeError, match=r'CorrMatch: decode head '
                       r'UniMatchV2DPTHead reads feature maps.*'
                       r'VisionTransformer gives \[feature map, class '
                       r'token\] pairs.*output_cls_token=False'):
        MODELS.build(dict(type='CorrMatch', segmentor=cfg))
    aux = dict(type='FCNHead', in_channels=EMBED, in_index=3, channels=8,
               num_convs=1, num_classes=NUM_CLASSES)
    segmentor = MODELS.build(_segmentor_cfg('stock_dpt', auxiliary_head=aux))
    with pytest.raises(TypeError, match='auxiliary head FCNHead reads '
                       'feature maps'):
        check_segmentor(segmentor, 'U2PL')
    # a neck turns the pairs into maps (mmseg's ViT + MultiLevelNeck)
    neck = dict(type='MultiLevelNeck', in_channels=[EMBED] * 4,
                out_channels=EMBED, scales=[1, 1, 1, 1])
    cfg = _segmentor_cfg('v2_dpt', backbone=_vit(True), neck=neck)
    check_segmentor(MODELS.build(cfg), 'UniMatch')


# ----------------------------------------------------------------------
# every method, two steps
@pytest.mark.parametrize('student', sorted(STUDENTS))
@pytest.mark.parametrize('method', sorted(METHODS))
def test_method_trains_on_dpt_student(method, student):
    """Two optimisation steps: finite losses, every unsupervised loss
    term non-zero at confidence threshold 0, the student moves."""
    torch.manual_seed(0)
    model = MODELS.build(dict(type=method,
                              segmentor=_segmentor_cfg(student),
                              semi_train_cfg=METHODS[method]))
    params = [p for p in model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in params]
    train_steps_at_threshold_0(model, size=40)
    assert any(not torch.equal(a, p) for a, p in zip(before, params))


@pytest.mark.parametrize('student', sorted(STUDENTS))
@pytest.mark.parametrize('method', ['UniMatch', 'CorrMatch', 'U2PL'])
def test_auxiliary_head_gets_the_labeled_rows(method, student):
    """An auxiliary head of the decode head's kind (so it reads the same
    feature form) gets the labeled rows of every output, class tokens
    included: in eval mode its term equals the method's weight times the
    stock ``EncoderDecoder.loss`` term on the labeled images alone."""
    torch.manual_seed(0)
    aux = STUDENTS[student][1]()
    aux['loss_decode']['loss_weight'] = 0.4
    cfg = _segmentor_cfg(student, auxiliary_head=aux)
    model = MODELS.build(dict(type=method, segmentor=cfg,
                              semi_train_cfg=METHODS[method])).eval()
    inputs, samples = unimatch_batch(num_l=3, size=40)
    losses = model.loss(inputs, samples)
    with torch.no_grad():
        stock = model.student.loss(inputs['sup'], samples['sup'])
    weight = model.semi_train_cfg.get('sup_weight', 1.0)
    assert stock['aux.loss_ce'] > 0
    torch.testing.assert_close(losses['sup.aux.loss_ce'],
                               weight * stock['aux.loss_ce'])

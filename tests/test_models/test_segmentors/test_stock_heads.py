"""Every method on stock mmseg decode heads: the feature-perturbation
stream, the decoder features, a method step and the build-time checks;
heads whose forward returns several outputs (DAHead, EncHead) are used as
stock mmseg uses them."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmseg.registry import MODELS

import mmsemi.models  # noqa: F401
from _stock_heads import (CONSUMED, FAMILIES, MULTI_OUTPUT,
                          stock_segmentor_cfg)
from _tiny import NUM_CLASSES, TINY_SEGMENTOR, unimatch_batch
from mmsemi.models.segmentors.semi_base import SemiBaseSegmentor
from mmsemi.models.utils import (check_segmentor, decode_with_features,
                                 decode_with_perturbation)
from mmsemi.models.utils.decode_head_streams import split_head_output

METHODS = {
    'UniMatch': dict(conf_thresh=0.5),
    'CorrMatch': dict(conf_thresh=0.4),
    'U2PL': dict(max_iters=10, contrast=dict(
        queue_length=64, num_queries=8, num_negatives=4,
        low_entropy_threshold=20)),
    'CSS': dict(iters_per_epoch=5, strong_branches=('unsup_strong1', ),
                rep_head=dict(type='ProjectionHead', channels=8,
                              out_channels=8, dropout_ratio=0.0),
                contrast=dict(num_anchors=8, num_negatives=4)),
    'RankMatch': dict(conf_thresh=0.5, rank_loss=dict(num_agents=8)),
}


def _segmentor(family):
    return MODELS.build(stock_segmentor_cfg(
        family, NUM_CLASSES, TINY_SEGMENTOR['data_preprocessor']))


def _feats(segmentor, size=32):
    torch.manual_seed(0)
    return segmentor.extract_feat(torch.randn(2, 3, size, size))


def _logits(head, out):
    """The logits of a head's output: the output, or its first entry for
    heads that return several (as their ``predict`` reads it)."""
    if isinstance(out, torch.Tensor):
        return out
    assert type(head).__name__ in ('DAHead', 'EncHead')
    return out[0]


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_perturbation_stream_drops_the_features_the_head_reads(family):
    """Clean half = the head's own forward; perturbed half = the head on
    ``Dropout2d`` of exactly the features it consumes, drawn in the order
    it reads them (eval mode: BN does not mix the halves)."""
    segmentor = _segmentor(family).eval()
    head = segmentor.decode_head
    with torch.no_grad():
        feats = _feats(segmentor)
        torch.manual_seed(1)
        clean, perturbed = decode_with_perturbation(head, feats, 0.5)
        torch.manual_seed(1)
        dropped = list(feats)
        for index in CONSUMED[family]:
            dropped[index] = F.dropout2d(feats[index], 0.5, training=True)
        expected = _logits(head, head(dropped))
        plain = _logits(head, head(feats))
    torch.testing.assert_close(clean, plain)
    torch.testing.assert_close(perturbed, expected)
    assert (perturbed - clean).abs().mean() > 1e-3 * clean.abs().mean()


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_perturbation_stream_is_one_batch_in_train_mode(family):
    """In train mode BN sees clean and perturbed features together, so the
    clean half is not the head's forward on the clean batch alone."""
    segmentor = _segmentor(family).train()
    feats = _feats(segmentor)
    clean, perturbed = decode_with_perturbation(
        segmentor.decode_head, feats, 0.5)
    assert clean.shape == perturbed.shape == (2, NUM_CLASSES,
                                              *clean.shape[-2:])
    assert not torch.allclose(clean, perturbed)
    (clean.sum() + perturbed.sum()).backward()
    for index in CONSUMED[family]:
        assert feats[index].grad_fn is not None


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_decoder_features_are_the_classifier_input(family):
    segmentor = _segmentor(family).eval()
    head = segmentor.decode_head
    with torch.no_grad():
        feats = _feats(segmentor)
        features, logits = decode_with_features(head, feats)
        torch.testing.assert_close(logits, _logits(head, head(feats)))
        torch.testing.assert_close(logits, head.conv_seg(features))
    assert features.shape[1] == head.conv_seg.in_channels == head.channels
    assert 'cls_seg' not in vars(head)  # the head is left as it was


@pytest.mark.parametrize('family,point', [
    ('deeplabv3', 'bottleneck'), ('deeplabv3plus', 'bottleneck'),
    ('pspnet', None), ('upernet', None)])
def test_named_feature_point_where_the_head_exposes_it(family, point):
    """``prefer=('aspp',)`` reads the ASPP output on heads that expose it
    and the classifier input on the others."""
    segmentor = _segmentor(family).eval()
    head = segmentor.decode_head
    with torch.no_grad():
        feats = _feats(segmentor)
        features, logits = decode_with_features(head, feats, ('aspp', ))
        classifier_input, _ = decode_with_features(head, feats)
    torch.testing.assert_close(logits, head(feats))
    if point is None:
        torch.testing.assert_close(features, classifier_input)
    else:
        outputs = []
        handle = getattr(head, point).register_forward_hook(
            lambda mod, args, out: outputs.append(out))
        with torch.no_grad():
            head(feats)
        handle.remove()
        torch.testing.assert_close(features, outputs[0])
        assert features.shape[-2:] == feats[3].shape[-2:]


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_perturbation_stream_also_returns_clean_decoder_features(family):
    """``return_features`` adds the clean half's decoder features at the
    preferred point, from the same forward (eval mode: equal to the
    features of the clean batch alone)."""
    segmentor = _segmentor(family).eval()
    head = segmentor.decode_head
    with torch.no_grad():
        feats = _feats(segmentor)
        torch.manual_seed(1)
        clean, perturbed, features = decode_with_perturbation(
            head, feats, 0.5, return_features=True, prefer=('aspp', ))
        torch.manual_seed(1)
        expected_clean, expected_perturbed = decode_with_perturbation(
            head, feats, 0.5)
        expected_features, _ = decode_with_features(head, feats, ('aspp', ))
    torch.testing.assert_close(clean, expected_clean)
    torch.testing.assert_close(perturbed, expected_perturbed)
    torch.testing.assert_close(features, expected_features)


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_extra_outputs_are_the_heads_other_outputs(family):
    """Both streams return the head's outputs after the logits (the clean
    half's in the perturbation stream), None for a head that returns only
    logits (eval mode: equal to the head on the clean batch)."""
    segmentor = _segmentor(family).eval()
    head = segmentor.decode_head
    with torch.no_grad():
        feats = _feats(segmentor)
        plain = head(feats)
        _, _, extra = decode_with_features(head, feats, return_extra=True)
        *_, extra_fp = decode_with_perturbation(head, feats, 0.5,
                                                return_extra=True)
        *_, extra_both = decode_with_perturbation(
            head, feats, 0.5, return_features=True, return_extra=True)
    if family not in MULTI_OUTPUT:
        assert extra is extra_fp is extra_both is None
        return
    assert isinstance(plain, tuple) and len(extra) == len(plain) - 1 >= 1
    for got in (extra, extra_fp, extra_both):
        for out, expected in zip(got, plain[1:]):
            torch.testing.assert_close(out, expected)


@pytest.mark.parametrize('family', ['pspnet', *MULTI_OUTPUT])
def test_pseudo_label_logits_are_what_stock_mmseg_predicts_with(family):
    """The eval-mode logits that label the unlabeled images are those of
    the wrapped segmentor's own predict() (DAHead's pam_cam output,
    EncHead's segmentation output)."""
    model = MODELS.build(dict(
        type='UniMatch', segmentor=stock_segmentor_cfg(
            family, NUM_CLASSES, TINY_SEGMENTOR['data_preprocessor'])))
    inputs, samples = unimatch_batch(size=40)
    x = inputs['unsup_weak']
    logits = model.eval_logits(model.student, x)
    model.eval()
    with torch.no_grad():
        predicted = model.student.predict(x, samples['unsup_weak'])
    expected = torch.stack([p.seg_logits.data for p in predicted])
    torch.testing.assert_close(logits, expected)
    assert logits.shape == (2, NUM_CLASSES, 40, 40)


def _sup_weight(model):
    return model.semi_train_cfg.get('sup_weight', 1.0)


@pytest.mark.parametrize('method', sorted(METHODS))
@pytest.mark.parametrize('family', MULTI_OUTPUT)
def test_supervised_terms_are_the_heads_own_loss(family, method):
    """With several head outputs the supervised loss is the head's own
    loss_by_feat on all of them, as stock mmseg trains the segmentor:
    in eval mode (rows independent of the batch) every ``sup.decode.``
    term equals the method's weight times the stock
    ``EncoderDecoder.loss`` term on the labeled images alone."""
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type=method, segmentor=stock_segmentor_cfg(
            family, NUM_CLASSES, TINY_SEGMENTOR['data_preprocessor']),
        semi_train_cfg=METHODS[method]))
    model.eval()
    inputs, samples = unimatch_batch(size=40)
    torch.manual_seed(1)
    losses = model.loss(inputs, samples)
    with torch.no_grad():
        stock = model.student.loss(inputs['sup'], samples['sup'])
    expected = {f'sup.{k}': v for k, v in stock.items()
                if k.startswith('decode.') and 'loss' in k}
    got = {k: v for k, v in losses.items()
           if k.startswith('sup.decode.') and 'loss' in k}
    assert set(got) == set(expected)
    assert len(expected) == dict(danet=3, encnet=2)[family]
    for key, value in expected.items():
        torch.testing.assert_close(got[key], _sup_weight(model) * value)


def test_corrmatch_propagated_logits_take_the_per_pixel_criterion():
    """CorrMatch's supervised term on propagated logits is the head's
    per-pixel criterion (its SE term belongs to the head's own outputs)."""
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='CorrMatch', segmentor=stock_segmentor_cfg(
            'encnet', NUM_CLASSES, TINY_SEGMENTOR['data_preprocessor']),
        semi_train_cfg=METHODS['CorrMatch']))
    losses = model.loss(*unimatch_batch(size=40))
    terms = {k for k in losses if k.startswith('sup_corr.') and 'loss' in k}
    assert terms == {'sup_corr.decode.loss_ce'}
    assert torch.isfinite(losses['sup_corr.decode.loss_ce'])


def test_official_head_exposes_its_aspp_output():
    segmentor = MODELS.build(TINY_SEGMENTOR).eval()
    head = segmentor.decode_head
    with torch.no_grad():
        feats = _feats(segmentor, size=33)
        features, _ = decode_with_features(head, feats, ('aspp', ))
        c4 = feats[3]
        aspp = head.aspp_project(torch.cat([b(c4) for b in head.aspp], 1))
    torch.testing.assert_close(features, aspp)
    assert features.shape == (2, head.channels, *c4.shape[-2:])


@pytest.mark.parametrize('method', sorted(METHODS))
@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_method_step_on_stock_head(family, method):
    """Two optimisation steps of each method with finite losses that move
    the student; with an auxiliary head its loss is part of the step."""
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type=method,
        segmentor=stock_segmentor_cfg(
            family, NUM_CLASSES, TINY_SEGMENTOR['data_preprocessor']),
        semi_train_cfg=METHODS[method]))
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.SGD(params, lr=0.01)
    before = [p.detach().clone() for p in params]
    for step in range(2):
        losses = model.loss(*unimatch_batch(size=40, seed=step))
        terms = {k: v for k, v in losses.items() if 'loss' in k}
        assert all(torch.isfinite(v).all() for v in terms.values()), terms
        optim.zero_grad()
        sum(terms.values()).backward()
        optim.step()
    assert any(not torch.equal(a, p) for a, p in zip(before, params))
    if model.student.with_auxiliary_head:
        assert any(k.startswith('sup.aux.') for k in terms), sorted(terms)
    # heads with several outputs: every term of their own loss_by_feat
    extra_terms = dict(danet={'sup.decode.pam.loss_ce',
                              'sup.decode.cam.loss_ce'},
                       encnet={'sup.decode.loss_se'}).get(family, set())
    assert extra_terms <= set(terms), sorted(terms)
    if method in ('UniMatch', 'CorrMatch'):
        assert terms['unsup.loss_fp'] > 0
    if method == 'RankMatch':
        assert terms['unsup.loss_rank1'] > 0 and terms['unsup.loss_rank2'] > 0


def test_region_propagation_on_stock_heads_keeps_tiled_mode():
    model = MODELS.build(dict(
        type='CorrMatch',
        segmentor=stock_segmentor_cfg(
            'pspnet', NUM_CLASSES, TINY_SEGMENTOR['data_preprocessor'])))
    assert not model.align_corners
    assert model.semi_train_cfg['region_prop'] == 'tiled'


@MODELS.register_module()
class _HeadWithoutClassifier(nn.Module):
    """A decode head outside BaseDecodeHead (no cls_seg)."""

    def __init__(self, num_classes=NUM_CLASSES, **kwargs):
        super().__init__()
        self.num_classes = self.out_channels = num_classes
        self.align_corners = False
        self.conv = nn.Conv2d(64, num_classes, 1)

    def forward(self, inputs):
        return self.conv(inputs[-1])


@pytest.mark.parametrize('method', sorted(METHODS))
def test_unsupported_head_fails_at_build_time(method):
    cfg = stock_segmentor_cfg('pspnet', NUM_CLASSES,
                              TINY_SEGMENTOR['data_preprocessor'])
    cfg['decode_head'] = dict(type='_HeadWithoutClassifier')
    cfg.pop('auxiliary_head')
    with pytest.raises(TypeError, match='_HeadWithoutClassifier.*'
                       'BaseDecodeHead|BaseDecodeHead.*'
                       '_HeadWithoutClassifier'):
        MODELS.build(dict(type=method, segmentor=cfg,
                          semi_train_cfg=METHODS[method]))


def _without_aux(cfg):
    cfg.pop('auxiliary_head', None)
    return cfg


@pytest.mark.parametrize('method', sorted(METHODS))
def test_cascade_segmentor_fails_at_build_time(method):
    cfg = _without_aux(stock_segmentor_cfg(
        'pspnet', NUM_CLASSES, TINY_SEGMENTOR['data_preprocessor']))
    fcn = dict(type='FCNHead', in_channels=64, in_index=3, channels=8,
               num_convs=1, num_classes=NUM_CLASSES,
               norm_cfg=dict(type='BN'))
    cfg.update(type='CascadeEncoderDecoder', num_stages=2,
               decode_head=[fcn, dict(fcn)])
    with pytest.raises(TypeError, match=f'{method} needs a single decode '
                       'head.*list of 2 heads.*Cascade segmentors'):
        MODELS.build(dict(type=method, segmentor=cfg,
                          semi_train_cfg=METHODS[method]))


@pytest.mark.parametrize('method', sorted(METHODS))
def test_pidnet_head_fails_at_build_time(method):
    cfg = _without_aux(stock_segmentor_cfg(
        'pspnet', NUM_CLASSES, TINY_SEGMENTOR['data_preprocessor']))
    cfg['decode_head'] = dict(type='PIDHead', in_channels=64, channels=8,
                              num_classes=NUM_CLASSES,
                              norm_cfg=dict(type='BN'))
    with pytest.raises(TypeError, match=f'{method}: decode head PIDHead '
                       r'returns \(P, I, D\).*logits second'):
        MODELS.build(dict(type=method, segmentor=cfg,
                          semi_train_cfg=METHODS[method]))


@pytest.mark.parametrize('head_type', ['MaskFormerHead', 'Mask2FormerHead',
                                       'SideAdapterCLIPHead'])
def test_mask_classification_heads_are_refused_for_what_they_are(head_type):
    """Building these heads needs mmdet (MaskFormer) or CLIP weights (SAN),
    so the check runs on an instance of the real class made without its
    constructor; the message names mask classification, not cascades."""
    head_cls = MODELS.get(head_type)
    head = head_cls.__new__(head_cls)
    nn.Module.__init__(head)
    segmentor = _segmentor('pspnet')
    segmentor.decode_head = head
    with pytest.raises(TypeError) as info:
        check_segmentor(segmentor, 'UniMatch')
    message = str(info.value)
    assert f'decode head {head_type} is a mask-classification head' in \
        message
    assert 'Cascade' not in message


def test_head_outputs_other_than_logits_are_explained():
    head = _segmentor('pspnet').decode_head
    logits = torch.zeros(2, NUM_CLASSES, 4, 4)
    assert split_head_output(head, logits) == (logits, None)
    first, extra = split_head_output(head, (logits, torch.zeros(2, 3)))
    assert first is logits and len(extra) == 1
    with pytest.raises(TypeError, match=r'PSPHead.forward returned a dict.*'
                       r'logits \(N, K, h, w\)'):
        split_head_output(head, dict(seg=logits))
    with pytest.raises(TypeError, match=r'a tuple of \[a tensor of shape '
                       r'\(2, 3\)'):
        split_head_output(head, (torch.zeros(2, 3), logits))


def test_check_segmentor_names_what_is_missing():
    with pytest.raises(TypeError, match='Linear.*extract_feat'):
        check_segmentor(nn.Linear(2, 2), 'UniMatch')

"""CSS: loss keys, representation head, logit/representation pseudo-labels,
mix and cross rules, contrastive inputs, lambda_c ramp-down, unsupervised
weighting and checkpointed state (spec §12.1, 4-6, 9, 16, 17)."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmseg.registry import MODELS

import mmsemi.models  # noqa: F401
from mmsemi.models.losses import reco_fraction_cross_entropy
from mmsemi.models.segmentors.css import contrast_rampdown, quantize_8bit
from _tiny import NUM_CLASSES, tiny_segmentor_cfg, unimatch_batch

SIZE = 32


def _model(**train_cfg):
    torch.manual_seed(0)
    cfg = dict(iters_per_epoch=2, strong_branches=('unsup_strong1', ),
               rep_head=dict(type='ProjectionHead', channels=8,
                             out_channels=6, dropout_ratio=0.0),
               contrast=dict(num_anchors=4, num_negatives=3))
    cfg.update(train_cfg)
    model = MODELS.build(dict(type='CSS', segmentor=tiny_segmentor_cfg(),
                              semi_train_cfg=cfg))
    model.train()
    return model


def _total(losses):
    return sum(v for k, v in losses.items() if 'loss' in k)


def test_loss_keys_backward_and_state():
    model = _model()
    losses = model.loss(*unimatch_batch(size=SIZE))
    assert {'sup.decode.loss_ce', 'unsup.loss_u', 'unsup.loss_contrast',
            'unsup.agree_ratio', 'unsup.lambda_c', 'unsup.pl_acc_lg',
            'unsup.pl_acc_rep', 'unsup.hard_ratio'} <= set(losses)
    total = _total(losses)
    assert torch.isfinite(total)
    total.backward()
    assert model.student.rep_head.proj.weight.grad is not None
    assert all(p.grad is None for p in model.teacher.parameters())
    state = model.state_dict()
    assert {'cur_iter', 'contrast_loss.prototypes',
            'contrast_loss.prototype_initialized'} <= set(state)
    assert int(state['cur_iter']) == 1
    assert state['contrast_loss.prototype_initialized'].any()
    assert 'teacher.rep_head.proj.weight' in state


def test_rep_head_reads_fusion_input():
    """The official 304-channel point: [c1_reduce(c1), up(aspp)]."""
    model = _model()
    head = model.student.decode_head
    assert model.student.rep_head.conv.conv.in_channels == \
        head.channels + head.c1_reduce.conv.out_channels == 12
    feats, logits, rep, extra = model.student_forward(
        torch.randn(2, 3, SIZE, SIZE))
    assert extra is None  # the head returns its logits only
    assert rep.shape == (2, 6, *logits.shape[-2:])
    assert logits.shape[-1] == SIZE // 4


def test_representation_pseudo_labels():
    model = _model()
    x = torch.randn(2, 3, SIZE, SIZE)
    # all-zero prototypes: class 0 everywhere
    pl = model.teacher_pseudo_labels(x)
    assert (pl['y_rep'] == 0).all()
    assert torch.allclose(pl['conf_rep'],
                          torch.full_like(pl['conf_rep'], 1 / NUM_CLASSES))
    model.contrast_loss.prototypes.normal_()
    pl = model.teacher_pseudo_labels(x)
    _, rep = model.teacher_forward(x)
    sim = torch.einsum('ndhw,cd->nchw', F.normalize(rep, dim=1),
                       F.normalize(model.contrast_loss.prototypes, dim=1))
    sim = F.interpolate(sim, size=(SIZE, SIZE), mode='bilinear',
                        align_corners=True)
    assert torch.equal(pl['y_rep'], sim.argmax(1))
    torch.testing.assert_close(pl['conf_rep'],
                               (sim / 0.5).softmax(1).max(1)[0])
    # invariant to a positive rescaling of the prototypes
    model.contrast_loss.prototypes.mul_(3.0)
    assert torch.equal(model.teacher_pseudo_labels(x)['y_rep'], pl['y_rep'])
    # logit space: argmax / max of the upsampled softmax
    logits, _ = model.teacher_forward(x)
    probs = F.interpolate(logits, size=(SIZE, SIZE), mode='bilinear',
                          align_corners=True).softmax(1)
    assert torch.equal(pl['y_lg'], probs.argmax(1))


def _pl():
    y_lg = torch.tensor([[[0, 1], [2, 1]]])
    y_rep = torch.tensor([[[0, 2], [2, 1]]])
    return dict(y_lg=y_lg, y_rep=y_rep,
                conf_lg=torch.tensor([[[0.9, 0.8], [0.7, 0.6]]]),
                conf_rep=torch.tensor([[[0.5, 0.4], [0.3, 0.2]]]))


def test_mix_rule():
    model = _model(pseudo_label='mix')
    valid = torch.tensor([[[True, True], [True, False]]])
    out = model.combine_pseudo_labels(_pl(), valid, 0)
    assert out['y_ce'].tolist() == [[[0, 255], [2, 255]]]
    assert torch.equal(out['y_ct'], out['y_ce'])
    # the logit confidence is passed on, zero only on padding
    torch.testing.assert_close(out['c_ce'],
                               torch.tensor([[[0.9, 0.8], [0.7, 0.0]]]))
    assert torch.equal(out['c_ct'], out['c_ce'])


def test_cross_rule_and_warmup():
    model = _model(pseudo_label='cross', cross_warmup_iters=3)
    valid = torch.ones(1, 2, 2, dtype=torch.bool)
    pl = _pl()
    warm = model.combine_pseudo_labels(pl, valid, 2)
    assert torch.equal(warm['y_ce'], pl['y_lg'])
    assert torch.equal(warm['c_ce'], pl['conf_lg'])
    after = model.combine_pseudo_labels(pl, valid, 3)
    assert torch.equal(after['y_ce'], pl['y_rep'])
    assert torch.equal(after['c_ce'], pl['conf_rep'])
    for out in (warm, after):
        assert torch.equal(out['y_ct'], pl['y_lg'])
        assert torch.equal(out['c_ct'], pl['conf_lg'])


def test_contrast_inputs_valid_mask_and_strided_downsampling():
    model = _model(contrast_conf_thresh=0.7)
    gen = torch.Generator().manual_seed(0)
    gt = torch.randint(0, 3, (1, 8, 8), generator=gen)
    gt[0, 0, 0] = 255
    y_u = torch.randint(0, 3, (1, 8, 8), generator=gen)
    y_u[0, 4, 4] = 255
    conf = torch.rand(1, 8, 8, generator=gen)
    conf[0, 4, 4] = 1.0
    out = model.contrast_inputs(gt, y_u, conf, (2, 2))
    strided = torch.cat([gt[:, ::4, ::4], y_u[:, ::4, ::4]])
    assert torch.equal(out['labels'], strided)
    valid_u = (y_u[:, ::4, ::4] != 255) & (conf[:, ::4, ::4] >= 0.7)
    assert torch.equal(out['valid'],
                       torch.cat([gt[:, ::4, ::4] != 255, valid_u]))
    assert not out['valid'][0, 0, 0] and not out['valid'][1, 1, 1]


def test_contrast_rampdown():
    assert contrast_rampdown(0, 200) == 1.0
    assert contrast_rampdown(100, 200) == pytest.approx(math.exp(-1.25))
    assert contrast_rampdown(200, 200) == 0.0
    assert contrast_rampdown(250, 200) == 0.0
    model = _model(iters_per_epoch=3, contrast_weight=2.0)
    # epoch = iteration // iters_per_epoch
    assert model.contrast_lambda(2) == 2.0
    assert model.contrast_lambda(300) == pytest.approx(
        2 * math.exp(-1.25))
    assert model.contrast_lambda(600) == 0.0
    const = _model(contrast_schedule='constant', contrast_weight=0.5)
    assert const.contrast_lambda(10 ** 6) == 0.5


def test_unsupervised_weightings():
    logits = torch.randn(2, NUM_CLASSES, 4, 4)
    target = torch.randint(0, NUM_CLASSES, (2, 4, 4))
    target[0, 0] = 255
    conf = torch.rand(2, 4, 4)
    reco = _model(unsup_weighting='reco_fraction', conf_thresh=0.5)
    torch.testing.assert_close(
        reco.unsupervised_loss(logits, target, conf),
        reco_fraction_cross_entropy(logits, target, conf, 0.5))
    hard = _model(unsup_weighting='hard_mask', conf_thresh=0.5)
    keep = (target != 255) & (conf >= 0.5)
    expected = F.cross_entropy(logits, target, ignore_index=255,
                               reduction='none')[keep].mean()
    torch.testing.assert_close(hard.unsupervised_loss(logits, target, conf),
                               expected)
    none = torch.full_like(target, 255)
    assert float(hard.unsupervised_loss(logits, none, conf)) == 0.0


def test_zero_contrast_weight_after_rampdown_keeps_graph():
    model = _model(iters_per_epoch=1, rampdown_epochs=1)
    model.loss(*unimatch_batch(size=SIZE))
    losses = model.loss(*unimatch_batch(size=SIZE, seed=1))
    assert float(losses['unsup.lambda_c']) == 0.0
    assert float(losses['unsup.loss_contrast']) == 0.0
    # prototypes keep updating after the ramp-down
    assert model.contrast_loss.prototype_initialized.any()


@pytest.mark.parametrize('cfg,match', [
    (dict(pseudo_labels='mix'), 'unknown key'),
    (dict(pseudo_label='both'), 'pseudo_label'),
    (dict(unsup_weighting='soft'), 'unsup_weighting'),
])
def test_bad_config(cfg, match):
    with pytest.raises((KeyError, ValueError), match=match):
        _model(**cfg)


def test_missing_strong_branch_is_named():
    model = _model(strong_branches=('unsup_strong', ))
    with pytest.raises(KeyError, match='unsup_strong'):
        model.loss(*unimatch_batch(size=SIZE))


def test_optional_8bit_confidence_quantisation():
    # all four pass the raw thresholds 0.97 / 0.7
    high = torch.tensor([0.9726, 0.9725])
    low = torch.tensor([0.7020, 0.7019])
    # effective thresholds 248/255 = 0.97255 and 179/255 = 0.70196
    assert (quantize_8bit(high) >= 0.97).tolist() == [True, False]
    assert (quantize_8bit(low) >= 0.7).tolist() == [True, False]
    model = _model(quantize_conf=True)
    out = model.combine_pseudo_labels(_pl(), torch.ones(1, 2, 2).bool(), 0)
    torch.testing.assert_close(out['c_ce'], quantize_8bit(_pl()['conf_lg']))


def test_records_the_weak_view_agreement_labels_and_threshold():
    """The picture keeps the agreeing pixels at or above conf_thresh
    (the pixels mask_ratio counts) and is titled with that threshold."""
    model = _model()
    model.contrast_loss.prototypes.normal_()
    model.contrast_loss.prototype_initialized.fill_(True)
    model.pseudo_label_record_request = 2
    inputs, samples = unimatch_batch(size=SIZE)
    pl = model.teacher_pseudo_labels(inputs['unsup_weak'])
    agree = (pl['y_lg'] == pl['y_rep'])[:2]
    agree[:, -4:] = False  # padding
    # a threshold that keeps some agreeing pixels and drops others
    threshold = float(pl['conf_lg'][:2][agree].median())
    model.semi_train_cfg['conf_thresh'] = threshold
    losses = model.loss(inputs, samples)
    record = model.pseudo_label_record
    assert torch.equal(record.images, inputs['unsup_weak'][:2])
    kept = agree & (pl['conf_lg'][:2] >= threshold)
    assert 0 < kept.sum() < agree.sum()
    assert torch.equal(record.mask, kept)
    assert record.threshold == pytest.approx(threshold)
    assert float(losses['unsup.threshold']) == pytest.approx(threshold)
    assert torch.equal(record.labels[agree], pl['y_lg'][:2][agree])


@pytest.mark.parametrize('old,new,value,resolved', [
    ('unsup_threshold', 'conf_thresh', 0.5, 0.5),
    ('weak_threshold', 'contrast_conf_thresh', 0.6, 0.6),
    ('strong_branch', 'strong_branches', 'unsup_strong1',
     ('unsup_strong1', )),
])
def test_deprecated_names_warn_and_resolve(old, new, value, resolved):
    cfg = dict(iters_per_epoch=2, **{old: value})
    if old != 'strong_branch':
        cfg['strong_branches'] = ('unsup_strong1', )
    with pytest.warns(FutureWarning, match=f'{old}.*{new}'):
        model = MODELS.build(dict(type='CSS', segmentor=tiny_segmentor_cfg(),
                                  semi_train_cfg=cfg))
    assert model.semi_train_cfg[new] == resolved
    assert old not in model.semi_train_cfg


def test_contrast_loss_weight_folds_into_contrast_weight():
    """The old product convention: contrast.loss_weight multiplies
    contrast_weight (with a warning), the built loss has weight 1."""
    with pytest.warns(FutureWarning, match='contrast.loss_weight'):
        model = _model(contrast_weight=0.5,
                       contrast=dict(loss_weight=0.2))
    assert model.semi_train_cfg['contrast_weight'] == pytest.approx(0.1)
    assert model.contrast_loss.loss_weight == 1.0

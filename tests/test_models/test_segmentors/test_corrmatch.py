"""CorrMatch's loss against a re-statement of the official training step,
its loss weights, threshold state, gradient paths and inference."""
import copy
import sys

import pytest
import torch
import torch.nn.functional as F

from mmseg.registry import MODELS

import mmsemi.models  # noqa: F401
from _head_oracles import official_forward_with_perturbation
from _tiny import NUM_CLASSES, tiny_segmentor_cfg, to_device, unimatch_batch
from mmsemi.models.decode_heads import CorrelationHead

# 33 = 8 * 4 + 1: c1 is 9x9 and c4 5x5, as for the official 321/513/801
# crops; tests that take `fixed_randomness` also run at 40.
SIZE = 33
FEAT = 5
LOSS_WEIGHTS = {
    'sup.decode.loss_ce': 0.25,
    'sup_corr.decode.loss_ce': 0.25,
    'unsup.loss_strong': 0.125,
    'unsup.loss_fp': 0.125,
    'unsup.loss_kl': 0.125,
    'unsup.loss_corr_strong': 0.0625,
    'unsup.loss_corr_weak': 0.0625,
}
WEIGHT_KEYS = {
    'sup.decode.loss_ce': 'sup_weight',
    'sup_corr.decode.loss_ce': 'sup_corr_weight',
    'unsup.loss_strong': 'strong_weight',
    'unsup.loss_fp': 'fp_weight',
    'unsup.loss_kl': 'kl_weight',
    'unsup.loss_corr_strong': 'corr_strong_weight',
    'unsup.loss_corr_weak': 'corr_weak_weight',
}


def _model(segmentor=None, **train_cfg):
    torch.manual_seed(0)
    return MODELS.build(
        dict(type='CorrMatch', segmentor=segmentor or tiny_segmentor_cfg(),
             semi_train_cfg=train_cfg))


def _fix_randomness(model, box, rows):
    """Inject the fixed CutMix box and sampled rows (on the model's device
    when it draws)."""
    model.cutmix_sampler = \
        lambda *args, device=None, **kwargs: box.to(device)
    model.shape_row_sampler = \
        lambda *args, device=None, **kwargs: rows.to(device)
    return model


def _batch(seed=0):
    return unimatch_batch(size=SIZE, seed=seed)


def _box():
    box = torch.zeros(2, SIZE, SIZE, dtype=torch.bool)
    box[0, 3:15, 6:22] = True
    return box


ROWS = torch.tensor([0, 6, 12, 18, 23, 3, 12, 20])


@pytest.fixture(params=[33, 40], ids=['crop33', 'crop40'])
def fixed_randomness(monkeypatch, request):
    """A fixed CutMix box (image 0 only) and fixed sampled rows, at a crop
    of 8k + 1 (33) and one that is not (40: c1 10x10, c4 5x5); give them
    to a model with :func:`_fix_randomness`."""
    monkeypatch.setattr(sys.modules[__name__], 'SIZE', request.param)
    return _box(), ROWS


def _total(losses):
    return sum(v for k, v in losses.items() if 'loss' in k)


def _official_step(student, corr_head, inputs, samples, box, rows, tau0,
                   momentum, fixed, kl_mixed):
    """The official CorrMatch iteration (spec §8) written out with plain
    torch ops, the CutMix partner of image i being image i-1."""
    up = lambda t: F.interpolate(t, size=(SIZE, SIZE),  # noqa: E731
                                 mode='bilinear', align_corners=True)
    num_l = inputs['sup'].shape[0]
    x_l, x_w, x_s = (inputs['sup'], inputs['unsup_weak'],
                     inputs['unsup_strong1'])
    mask_x = torch.stack([s.gt_sem_seg.data[0] for s in samples['sup']])
    ignore = torch.stack(
        [s.gt_sem_seg.data[0] for s in samples['unsup_weak']])

    # 2. eval-mode prediction of the mix source, paste the strong image
    student.eval()
    with torch.no_grad():
        pred_src = up(student._forward(x_w)).roll(1, 0).softmax(1)
    conf_src, label_src = pred_src.max(1)
    ignore_src = ignore.roll(1, 0)
    img_s = x_s.clone()
    sel = box.unsqueeze(1).expand(img_s.shape)
    img_s[sel] = x_s.roll(1, 0)[sel]

    def propagate(corr, logits):
        low = F.interpolate(up(logits).detach(), size=(FEAT, FEAT),
                            mode='bilinear', align_corners=True)
        z = low.flatten(2) @ corr
        return up(z.view(z.shape[0], z.shape[1], FEAT, FEAT))

    # 3. weak joint pass, 4. strong pass (train mode)
    student.train()
    feats = student.extract_feat(torch.cat([x_l, x_w]))
    preds, preds_fp = official_forward_with_perturbation(
        student.decode_head, feats, 0.5)
    corr = corr_head(feats[3])
    z = propagate(corr, preds)
    feats_s = student.extract_feat(img_s)
    pred_s = student.decode_head(feats_s)
    z_s = propagate(corr_head(feats_s[3]), pred_s)
    pred_s = up(pred_s)
    preds, preds_fp = up(preds), up(preds_fp)
    pred_x, pred_w = preds[:num_l], preds[num_l:]
    pred_fp = preds_fp[num_l:]
    z_l, z_w = z[:num_l], z[num_l:]

    # 5. weak and mixed targets
    prob_w = pred_w.detach().softmax(1)
    conf_w, label_w = prob_w.max(1)
    label_mix, conf_mix, ignore_mix = (label_w.clone(), conf_w.clone(),
                                       ignore.clone())
    label_mix[box], conf_mix[box] = label_src[box], conf_src[box]
    ignore_mix[box] = ignore_src[box]
    valid, valid_mix = ignore != 255, ignore_mix != 255

    # 6. shapes (rows upsampled, min-max normalised, > 0.5), restricted.
    # Upsampled on the CPU: the model's tiled propagation reproduces the
    # CPU bilinear kernel's rounding on every device, and CUDA's kernel may
    # put a pixel within rounding of 0.5 on the other side.
    shapes = torch.zeros(2, len(rows), SIZE, SIZE, dtype=torch.bool,
                         device=box.device)
    corr_w = corr[num_l:].detach().cpu()
    for b in range(2):
        for s, row in enumerate(rows):
            c = up(corr_w[b, row].view(1, 1, FEAT, FEAT))[0, 0]
            c = ((c - c.min()) / (c.max() - c.min())).to(box.device)
            shapes[b, s] = (c > 0.5) & ~box[b] & valid_mix[b]

    # 7. threshold update: EMA of the mean per-class max confidence over
    # the pixels that are valid in the mixed ignore map
    tau = torch.tensor(tau0, device=box.device)
    if not fixed:
        maxima = [conf_w[(label_w == c) & valid_mix].max()
                  for c in range(NUM_CLASSES)
                  if ((label_w == c) & valid_mix).any()]
        tau = momentum * tau + (1 - momentum) * torch.stack(maxima).mean()

    # 8. region propagation (sequential, official order)
    mask_w = (conf_w >= tau) & valid
    mask_mix = (conf_mix >= tau) & valid_mix
    label_prop, mask_prop = label_mix.clone(), mask_mix.clone()
    for b in range(2):
        for s in range(len(rows)):
            region = shapes[b, s]
            core = region & mask_mix[b]
            if core.sum() == 0 or core.sum() / region.sum() < tau:
                continue
            classes, counts = label_prop[b][core].unique(return_counts=True)
            if counts.max() / core.sum() > tau:
                label_prop[b][region] = classes[counts.argmax()]
                mask_prop[b][region] = True

    # 9. the seven losses
    def hard(pred, target, mask, val):
        loss = F.cross_entropy(pred, target, reduction='none') * mask
        return loss.sum() / val.sum()

    kl_target = prob_w.clone()
    if kl_mixed:
        kl_target = torch.where(box[:, None], pred_src, prob_w)
    kl = F.kl_div(pred_s.log_softmax(1), kl_target,
                  reduction='none').sum(1)
    terms = dict(
        loss_x=F.cross_entropy(pred_x, mask_x, ignore_index=255),
        loss_x_corr=F.cross_entropy(z_l, mask_x, ignore_index=255),
        loss_u_s=hard(pred_s, label_prop, mask_prop, valid_mix),
        loss_u_fp=hard(pred_fp, label_w, mask_w, valid),
        loss_u_kl=(kl * mask_mix).sum() / valid_mix.sum(),
        loss_u_corr_s=hard(z_s, label_prop, mask_prop, valid_mix),
        loss_u_corr_w=hard(z_w, label_w, mask_w, valid))
    t = terms
    total = (0.5 * t['loss_x'] + 0.5 * t['loss_x_corr'] +
             0.25 * t['loss_u_s'] + 0.25 * t['loss_u_kl'] +
             0.25 * t['loss_u_fp'] + 0.25 * 0.5 *
             (t['loss_u_corr_s'] + t['loss_u_corr_w'])) / 2
    added = (mask_prop & ~mask_mix).sum() / valid_mix.sum()
    return total, terms, tau, added


@pytest.mark.device
@pytest.mark.parametrize('thresh,kl_target', [
    (dict(conf_thresh_init=0.38, conf_thresh_momentum=0.9), 'weak_unmixed'),
    (dict(conf_thresh_init=0.38, conf_thresh_momentum=0.9), 'mixed'),
    (dict(conf_thresh=0.0), 'weak_unmixed'),
], ids=['dynamic', 'dynamic-kl-mixed', 'fixed-0'])
def test_loss_matches_official_step(fixed_randomness, thresh, kl_target,
                                    device):
    box, rows = (t.to(device) for t in fixed_randomness)
    model = _fix_randomness(_model(kl_target=kl_target, **thresh),
                            box, rows).to(device)
    ref_student = copy.deepcopy(model.student)
    ref_corr = copy.deepcopy(model.corr_head)
    inputs, samples = to_device(*_batch(), device)

    torch.manual_seed(7)
    losses = model.loss(inputs, samples)
    torch.manual_seed(7)
    fixed = 'conf_thresh' in thresh
    expected, terms, tau, added = _official_step(
        ref_student, ref_corr, inputs, samples, box, rows,
        thresh.get('conf_thresh', thresh.get('conf_thresh_init')),
        thresh.get('conf_thresh_momentum', 0.0), fixed,
        kl_target == 'mixed')

    assert set(k for k in losses if 'loss' in k) == set(LOSS_WEIGHTS)
    torch.testing.assert_close(_total(losses), expected)
    names = dict(zip(LOSS_WEIGHTS, terms))
    for key, weight in LOSS_WEIGHTS.items():
        torch.testing.assert_close(losses[key], weight * terms[names[key]])
    torch.testing.assert_close(model.thresh.tau, tau.float())
    torch.testing.assert_close(losses['unsup.threshold'], tau.float())
    torch.testing.assert_close(losses['unsup.region_added'], added.float())
    if not fixed:
        # the tiny model's confidences straddle tau: propagation adds pixels
        assert 0.0 < losses['unsup.mask_ratio_mix'].item() < 1.0
        assert losses['unsup.region_added'].item() > 0.0
    else:
        # tau = 0: every valid pixel is confident, and every non-empty shape
        # is accepted (a majority vote painted over it)
        assert losses['unsup.mask_ratio'].item() == 1.0
        assert losses['unsup.mask_ratio_prop'].item() == 1.0


def test_region_propagation_runs_and_reports_acceptance(fixed_randomness):
    model = _fix_randomness(_model(conf_thresh=0.0), *fixed_randomness)
    losses = model.loss(*_batch())
    assert set(k for k in losses if 'loss' in k) == set(LOSS_WEIGHTS)
    # tau = 0 accepts every non-empty restricted shape
    assert 0.0 < losses['unsup.region_accept_rate'].item() <= 1.0
    assert torch.isfinite(_total(losses))


def test_region_propagation_off_keeps_the_mixed_targets(fixed_randomness):
    """region_prop='none' (pixel propagation only, paper Table 6) trains
    the strong view on the CutMix-ed targets as they are."""
    model = _fix_randomness(_model(conf_thresh=0.4, region_prop='none'),
                            *fixed_randomness)
    losses = model.loss(*_batch())
    torch.testing.assert_close(losses['unsup.mask_ratio_prop'],
                               losses['unsup.mask_ratio_mix'])
    assert 'unsup.region_accept_rate' not in losses


def test_effective_weights(fixed_randomness):
    """Each term scales with its own weight; the default weights are the
    official ones and sum to 1 (all terms = 1 gives L = 1)."""
    unit = {name: 1.0 for name in WEIGHT_KEYS.values()}
    model, unit_model = (_fix_randomness(m, *fixed_randomness)
                         for m in (_model(), _model(**unit)))
    torch.manual_seed(3)
    losses = model.loss(*_batch())
    torch.manual_seed(3)
    losses_unit = unit_model.loss(*_batch())
    for key, weight in LOSS_WEIGHTS.items():
        assert model.semi_train_cfg[WEIGHT_KEYS[key]] == weight
        torch.testing.assert_close(losses[key], weight * losses_unit[key])
    assert sum(LOSS_WEIGHTS.values()) == 1.0
    torch.testing.assert_close(
        _total(losses),
        sum(w * losses_unit[k] for k, w in LOSS_WEIGHTS.items()))


def test_no_confident_pixel_gives_zero_unsupervised_losses():
    model = _model(conf_thresh=1.01)
    losses = model.loss(*_batch())
    for key in LOSS_WEIGHTS:
        if key.startswith('unsup.'):
            assert losses[key].item() == 0.0, key
    for key in ('mask_ratio', 'mask_ratio_mix', 'mask_ratio_prop',
                'region_added', 'region_accept_rate'):
        assert losses[f'unsup.{key}'].item() == 0.0, key
    _total(losses).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is None or torch.isfinite(g).all() for g in grads)


def test_threshold_updated_once_per_step_and_checkpointed(monkeypatch):
    model = _model(conf_thresh_init=0.85, conf_thresh_momentum=0.9)
    calls = []
    update = model.thresh.update

    def counting_update(*args, **kwargs):
        calls.append(model.thresh.tau.clone())
        return update(*args, **kwargs)

    monkeypatch.setattr(model.thresh, 'update', counting_update)
    losses = model.loss(*_batch())
    assert len(calls) == 1
    tau_1 = model.thresh.tau.clone()
    assert tau_1.item() != pytest.approx(0.85)
    # the threshold used this step is the updated one
    torch.testing.assert_close(losses['unsup.threshold'], tau_1)
    model.loss(*_batch(seed=1))
    assert len(calls) == 2
    torch.testing.assert_close(calls[1], tau_1)

    state = model.state_dict()
    assert 'thresh.tau' in state
    fresh = _model(conf_thresh_init=0.85, conf_thresh_momentum=0.9)
    assert fresh.thresh.tau.item() == pytest.approx(0.85)
    fresh.load_state_dict(state)
    torch.testing.assert_close(fresh.thresh.tau, model.thresh.tau)


def test_fixed_threshold_never_moves():
    model = _model(conf_thresh=0.0)
    model.loss(*_batch())
    model.loss(*_batch(seed=1))
    assert model.thresh.tau.item() == 0.0


def test_correlation_losses_do_not_reach_the_decode_head():
    model = _model(conf_thresh_init=0.3)
    losses = model.loss(*_batch())
    corr_loss = (losses['sup_corr.decode.loss_ce'] +
                 losses['unsup.loss_corr_strong'] +
                 losses['unsup.loss_corr_weak'])
    assert corr_loss.item() > 0
    corr_loss.backward()
    for name, param in model.student.decode_head.named_parameters():
        assert param.grad is None or not param.grad.any(), name
    assert all(p.grad is not None and p.grad.any()
               for p in (model.corr_head.conv1.weight,
                         model.corr_head.conv2.weight,
                         model.corr_head.proj[0].weight))
    layer4 = model.student.backbone.layer4[-1].conv1.weight
    assert layer4.grad is not None and layer4.grad.any()


def test_inference_is_the_plain_student():
    model = _model()
    model.eval()
    inputs, samples = _batch()
    image = inputs['sup']
    expected = model.student._forward(image)
    with torch.no_grad():
        for param in model.corr_head.parameters():
            param.add_(1.0)
    torch.testing.assert_close(model._forward(image), expected)
    metas = [s.metainfo for s in samples['sup']]
    torch.testing.assert_close(model.encode_decode(image, metas),
                               model.student.encode_decode(image, metas))
    assert model.semi_test_cfg['predict_on'] == 'student'
    assert model.teacher is None


def test_correlation_head_defaults_and_override():
    model = _model()
    head = model.corr_head
    assert head.in_channels == 32  # last decode-head input (c4)
    assert head.corr_channels == NUM_CLASSES  # D = K, official
    assert head.channels == 256
    assert model.semi_train_cfg['region_prop'] == 'tiled'
    assert model.semi_train_cfg['kl_target'] == 'weak_unmixed'
    small = _model(corr_head=dict(channels=16, corr_channels=4))
    assert (small.corr_head.channels, small.corr_head.corr_channels) == \
        (16, 4)
    # the merge rule: the given keys update the default head config
    assert small.semi_train_cfg['corr_head']['dropout_ratio'] == 0.1
    assert small.corr_head.proj[3].p == 0.1
    # another backbone output: channels read from the decode head's inputs
    assert _model(corr_in_index=0).corr_head.in_channels == 4
    with pytest.raises(ValueError, match='corr_in_index=1'):
        _model(corr_in_index=1)
    assert _model(corr_in_index=1, corr_head=dict(
        in_channels=8)).corr_head.in_channels == 8


def test_ohem_criterion_is_used_for_both_supervised_terms(monkeypatch):
    segmentor = tiny_segmentor_cfg()
    segmentor['decode_head']['sampler'] = dict(
        type='OHEMPixelSampler', thresh=0.7, min_kept=50)
    model = _model(segmentor, conf_thresh=0.0)
    sampled = []
    sample = model.student.decode_head.sampler.sample
    monkeypatch.setattr(
        model.student.decode_head.sampler, 'sample',
        lambda logit, label: sampled.append(logit.shape) or
        sample(logit, label))
    losses = model.loss(*_batch())
    # the sampler sees the main logits and the propagated ones
    assert len(sampled) == 2
    assert {'sup.decode.loss_ce', 'sup_corr.decode.loss_ce'} <= set(losses)


@pytest.mark.parametrize('cfg,error', [
    (dict(strong_branches=('unsup_strong1', 'unsup_strong2')), ValueError),
    (dict(region_prop='loop'), ValueError),
    (dict(kl_target='strong'), ValueError),
    (dict(region_prop='sequential'), ValueError),
    (dict(conf_thresh_int=0.95), KeyError),
    (dict(fixed_thresh=0.0, conf_thresh=0.0), KeyError),
])
def test_invalid_settings_are_reported(cfg, error):
    with pytest.raises(error):
        _model(**cfg)


@MODELS.register_module()
class _WideCorrelationHead(CorrelationHead):
    """A correlation head of another registered type."""


def test_parts_are_built_from_their_config_type():
    model = _model(corr_head=dict(type='_WideCorrelationHead'),
                   corr_loss=dict(type='CorrelationLoss',
                                  loss_name='loss_prop'))
    assert type(model.corr_head) is _WideCorrelationHead
    assert model.corr_loss.loss_name == 'loss_prop'
    # the head of another type is built from its own config alone
    assert model.semi_train_cfg['corr_head']['type'] == '_WideCorrelationHead'
    assert 'channels' not in model.semi_train_cfg['corr_head']


@pytest.mark.parametrize('old,new,value', [
    ('fixed_thresh', 'conf_thresh', 0.0),
    ('thresh_init', 'conf_thresh_init', 0.5),
    ('thresh_momentum', 'conf_thresh_momentum', 0.9),
    ('thresh_valid', 'conf_thresh_valid', 'weak'),
])
def test_deprecated_threshold_names_warn_and_resolve(old, new, value):
    with pytest.warns(FutureWarning, match=f'{old}.*{new}'):
        model = _model(**{old: value})
    assert model.semi_train_cfg[new] == value
    assert old not in model.semi_train_cfg


def test_correlation_loss_takes_its_weights_from_the_two_terms():
    with pytest.raises(KeyError, match='corr_loss takes no loss_weight'):
        _model(corr_loss=dict(loss_weight=0.5))

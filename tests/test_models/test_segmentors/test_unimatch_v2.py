"""UniMatch V2's loss against a line-by-line re-statement of the official
training step (``unimatch_v2.py`` and ``DPT.forward(comp_drop=True)``),
with the CutMix boxes and channel masks injected into both."""
import copy

import pytest
import torch
import torch.nn.functional as F

from mmseg.registry import MODELS

import mmsemi.models  # noqa: F401
from _tiny import (fix_cutmix_boxes, tiny_segmentor_cfg, to_device,
                   unimatch_batch)
from mmsemi.models.utils.complementary_dropout import \
    complementary_channel_masks

SIZE = 32


def _model(**train_cfg):
    torch.manual_seed(0)
    model = MODELS.build(dict(type='UniMatchV2',
                              segmentor=tiny_segmentor_cfg(),
                              semi_train_cfg=train_cfg))
    # a teacher that differs from the student, as after some EMA steps
    with torch.no_grad():
        for param in model.teacher.parameters():
            param.add_(0.05 * torch.randn_like(param))
    return model


def _boxes(device):
    box1 = torch.zeros(2, SIZE, SIZE, dtype=torch.bool, device=device)
    box1[0, 2:12, 5:20] = True
    box2 = torch.zeros(2, SIZE, SIZE, dtype=torch.bool, device=device)
    box2[1, 20:30, 0:9] = True
    box2[0, 0:6, 0:30] = True
    return [box1, box2]


def _masks(widths, device):
    gen = torch.Generator().manual_seed(3)
    return {c: complementary_channel_masks(2, c, 0.5, generator=gen,
                                           device=device) for c in widths}


def _inject(model, boxes, masks):
    fix_cutmix_boxes(model, boxes)
    model.channel_mask_sampler = \
        lambda num, channels, kept_ratio, device: masks[channels]


def _official_forward(model, x, masks=None):
    """``DPT.forward``: features (times the channel masks when given),
    head, logits resized to the input with ``align_corners=True``."""
    feats = model.extract_feat(x)
    if masks is not None:
        feats = [f * masks[f.shape[1]][:, :, None, None] for f in feats]
    out = model.decode_head(feats)
    return F.interpolate(out, x.shape[-2:], mode='bilinear',
                         align_corners=True)


def _official_step(model, model_ema, inputs, samples, boxes, masks,
                   thresh):
    """The official iteration; ``ignore_mask`` is 255 on padding."""
    img_x = inputs['sup']
    mask_x = torch.stack([s.gt_sem_seg.data[0] for s in samples['sup']])
    img_u_w = inputs['unsup_weak']
    img_u_s1 = inputs['unsup_strong1'].clone()
    img_u_s2 = inputs['unsup_strong2'].clone()
    ignore_mask = torch.stack(
        [s.gt_sem_seg.data[0] for s in samples['unsup_weak']])
    cutmix_box1, cutmix_box2 = (b.long() for b in boxes)

    model_ema.eval()
    with torch.no_grad():
        pred_u_w = _official_forward(model_ema, img_u_w).detach()
        conf_u_w = pred_u_w.softmax(dim=1).max(dim=1)[0]
        mask_u_w = pred_u_w.argmax(dim=1)

    sel1 = cutmix_box1.unsqueeze(1).expand(img_u_s1.shape) == 1
    img_u_s1[sel1] = img_u_s1.flip(0)[sel1]
    sel2 = cutmix_box2.unsqueeze(1).expand(img_u_s2.shape) == 1
    img_u_s2[sel2] = img_u_s2.flip(0)[sel2]

    model.train()
    pred_x = _official_forward(model, img_x)
    pred_u_s1, pred_u_s2 = _official_forward(
        model, torch.cat((img_u_s1, img_u_s2)), masks).chunk(2)

    def cutmixed(box):
        m, c, ig = mask_u_w.clone(), conf_u_w.clone(), ignore_mask.clone()
        m[box == 1] = mask_u_w.flip(0)[box == 1]
        c[box == 1] = conf_u_w.flip(0)[box == 1]
        ig[box == 1] = ignore_mask.flip(0)[box == 1]
        return m, c, ig

    def strong_loss(pred, box):
        m, c, ig = cutmixed(box)
        loss = F.cross_entropy(pred, m, reduction='none')
        loss = loss * ((c >= thresh) & (ig != 255))
        return loss.sum() / (ig != 255).sum().item()

    loss_x = F.cross_entropy(pred_x, mask_x, ignore_index=255)
    loss_u_s = (strong_loss(pred_u_s1, cutmix_box1) +
                strong_loss(pred_u_s2, cutmix_box2)) / 2.0
    loss = (loss_x + loss_u_s) / 2.0
    mask_ratio = ((conf_u_w >= thresh) & (ignore_mask != 255)).sum() / \
        (ignore_mask != 255).sum()
    return loss, mask_ratio


def _grads(module):
    return {n: p.grad.clone() for n, p in module.named_parameters()
            if p.grad is not None}


@pytest.mark.device
@pytest.mark.parametrize('thresh', [0.0, 0.2])
def test_step_matches_official(thresh, device):
    model = _model(conf_thresh=thresh).to(device)
    ref_student = copy.deepcopy(model.student)
    ref_teacher = copy.deepcopy(model.teacher)
    inputs, samples = to_device(*unimatch_batch(size=SIZE), device)
    boxes = _boxes(device)
    widths = {f.shape[1] for f in model.student.extract_feat(inputs['sup'])}
    masks = _masks(widths, device)
    _inject(model, boxes, masks)

    losses = model.loss(inputs, samples)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    expected, mask_ratio = _official_step(ref_student, ref_teacher, inputs,
                                          samples, boxes, masks, thresh)
    torch.testing.assert_close(total, expected, rtol=1e-5, atol=1e-7)
    assert set(k for k in losses if 'loss' in k) == {
        'sup.decode.loss_ce', 'unsup.loss_strong1', 'unsup.loss_strong2'}
    torch.testing.assert_close(losses['unsup.mask_ratio'], mask_ratio)
    assert losses['unsup.loss_strong1'] > 0

    total.backward()
    expected.backward()
    ours, theirs = _grads(model.student), _grads(ref_student)
    assert ours.keys() == theirs.keys() and len(ours) > 10
    for name in ours:
        torch.testing.assert_close(ours[name], theirs[name], rtol=1e-5,
                                   atol=1e-7, msg=name)
    # the teacher is not trained
    assert all(p.grad is None for p in model.teacher.parameters())


def test_complementary_masks():
    """Spec property 1: masked images have m1 + m2 = 2 with values in
    {0, 2}; kept images are 1 in both views; ``int(N * 0.5)`` are kept."""
    gen = torch.Generator().manual_seed(0)
    masks = complementary_channel_masks(6, 64, 0.5, generator=gen)
    first, second = masks.chunk(2)
    kept = (first == 1).all(1)
    assert kept.sum() == 3 and torch.equal(kept, (second == 1).all(1))
    torch.testing.assert_close(first[~kept] + second[~kept],
                               torch.full((3, 64), 2.0))
    assert set(first[~kept].unique().tolist()) == {0.0, 2.0}
    # about half of the channels of a masked image are dropped
    assert 0.3 < (first[~kept] == 0).float().mean() < 0.7


def test_one_image_per_view_is_always_masked():
    """``int(1 * 0.5) = 0`` images are kept: the single image is masked
    complementarily in both views."""
    first, second = complementary_channel_masks(1, 256, 0.5).chunk(2)
    assert set(first.unique().tolist()) == {0.0, 2.0}
    torch.testing.assert_close(first + second, torch.full((1, 256), 2.0))


def test_two_strong_views_and_a_teacher_are_required():
    with pytest.raises(ValueError, match='strong_branches'):
        _model(strong_branches=('unsup_strong1', ))
    with pytest.raises(ValueError, match='use_teacher'):
        _model(use_teacher=False)

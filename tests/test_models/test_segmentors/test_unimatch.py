"""UniMatch's loss against a re-statement of the official training step."""
import copy

import pytest
import torch
import torch.nn.functional as F

from mmseg.registry import MODELS

import mmsemi.models  # noqa: F401
from _head_oracles import official_forward_with_perturbation
from _tiny import (fix_cutmix_boxes, tiny_segmentor_cfg, to_device,
                   unimatch_batch)


def _model(**train_cfg):
    torch.manual_seed(0)
    return MODELS.build(dict(type='UniMatch', segmentor=tiny_segmentor_cfg(),
                             semi_train_cfg=train_cfg))


def _official_step(student, inputs, samples, boxes, thresh):
    """The official UniMatch iteration, with the CutMix partner of image i
    being image i-1 of the same batch."""
    up = lambda t: F.interpolate(t, size=(32, 32), mode='bilinear',  # noqa
                                 align_corners=True)
    x_l, x_w = inputs['sup'], inputs['unsup_weak']
    mask_x = torch.stack([s.gt_sem_seg.data[0] for s in samples['sup']])
    ignore_mask = torch.stack(
        [s.gt_sem_seg.data[0] for s in samples['unsup_weak']])
    student.eval()
    with torch.no_grad():
        pred_mix = up(student._forward(x_w)).roll(1, 0)
    conf_mix, mask_mix = pred_mix.softmax(1).max(1)
    ignore_mix = ignore_mask.roll(1, 0)
    strong = []
    for branch, box in zip(('unsup_strong1', 'unsup_strong2'), boxes):
        img = inputs[branch].clone()
        sel = box.unsqueeze(1).expand(img.shape)
        img[sel] = inputs[branch].roll(1, 0)[sel]
        strong.append(img)
    student.train()
    feats = student.extract_feat(torch.cat([x_l, x_w]))
    preds, preds_fp = official_forward_with_perturbation(
        student.decode_head, feats, 0.5)
    preds, preds_fp = up(preds), up(preds_fp)
    pred_x, pred_u_w = preds.split([2, 2])
    pred_u_w_fp = preds_fp[2:]
    pred_s1, pred_s2 = up(student._forward(torch.cat(strong))).chunk(2)
    conf_u_w, mask_u_w = pred_u_w.detach().softmax(1).max(1)

    def strong_loss(pred, box):
        m, c, ig = mask_u_w.clone(), conf_u_w.clone(), ignore_mask.clone()
        m[box], c[box], ig[box] = mask_mix[box], conf_mix[box], ignore_mix[box]
        loss = F.cross_entropy(pred, m, reduction='none')
        loss = loss * ((c >= thresh) & (ig != 255))
        return loss.sum() / (ig != 255).sum()

    loss_x = F.cross_entropy(pred_x, mask_x, ignore_index=255)
    loss_s1 = strong_loss(pred_s1, boxes[0])
    loss_s2 = strong_loss(pred_s2, boxes[1])
    loss_fp = F.cross_entropy(pred_u_w_fp, mask_u_w, reduction='none')
    loss_fp = loss_fp * ((conf_u_w >= thresh) & (ignore_mask != 255))
    loss_fp = loss_fp.sum() / (ignore_mask != 255).sum()
    total = (loss_x + 0.25 * loss_s1 + 0.25 * loss_s2 + 0.5 * loss_fp) / 2
    return total, mask_u_w


@pytest.mark.device
@pytest.mark.parametrize('thresh', [0.0, 0.4])
def test_loss_matches_official_step(thresh, device):
    model = _model(conf_thresh=thresh).to(device)
    reference = copy.deepcopy(model.student)
    inputs, samples = to_device(*unimatch_batch(), device)
    box1 = torch.zeros(2, 32, 32, dtype=torch.bool, device=device)
    box1[0, 2:12, 5:20] = True
    box2 = torch.zeros(2, 32, 32, dtype=torch.bool, device=device)
    box2[1, 20:30, 0:9] = True
    fix_cutmix_boxes(model, [box1, box2])

    torch.manual_seed(7)
    losses = model.loss(inputs, samples)
    torch.manual_seed(7)
    expected, pseudo = _official_step(reference, inputs, samples,
                                      [box1, box2], thresh)

    total = sum(v for k, v in losses.items() if 'loss' in k)
    torch.testing.assert_close(total, expected)
    assert set(k for k in losses if 'loss' in k) == {
        'sup.decode.loss_ce', 'unsup.loss_fp', 'unsup.loss_strong1',
        'unsup.loss_strong2'}
    # diagnostics are logged, not summed
    valid = torch.ones(2, 32, 32, dtype=torch.bool, device=device)
    valid[:, -4:] = False
    hidden = torch.stack([s.gt_unsup_sem_seg.data[0]
                          for s in samples['unsup_weak']])
    acc_all = ((pseudo == hidden) & valid).sum() / valid.sum()
    torch.testing.assert_close(losses['unsup.pl_acc_all'], acc_all.float())
    assert losses['unsup.threshold'].item() == pytest.approx(thresh)
    if thresh == 0.0:
        assert losses['unsup.mask_ratio'].item() == 1.0


def test_no_confident_pixel_gives_zero_unsupervised_losses():
    model = _model(conf_thresh=1.01)
    inputs, samples = unimatch_batch()
    losses = model.loss(inputs, samples)
    for key in ('unsup.loss_fp', 'unsup.loss_strong1', 'unsup.loss_strong2'):
        assert losses[key].item() == 0.0
    assert losses['unsup.mask_ratio'].item() == 0.0
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    grads = [p.grad for p in model.student.decode_head.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_one_strong_view_is_supported():
    model = _model(strong_branches=('unsup_strong1',), strong_weight=0.25)
    inputs, samples = unimatch_batch()
    losses = model.loss(inputs, samples)
    assert 'unsup.loss_strong1' in losses
    assert 'unsup.loss_strong2' not in losses


def test_misspelt_threshold_key_is_reported():
    with pytest.raises(KeyError, match='conf_tresh'):
        _model(conf_tresh=0.9)


def test_missing_branch_and_missing_padding_marker_are_explained():
    model = _model()
    inputs, samples = unimatch_batch()
    del inputs['unsup_strong2']
    with pytest.raises(KeyError, match=r"no branch \['unsup_strong2'\]"):
        model.loss(inputs, samples)
    inputs, samples = unimatch_batch()
    for sample in samples['unsup_weak']:
        del sample.gt_sem_seg
    with pytest.raises(ValueError, match='LoadUnlabeledAnnotations'):
        model.loss(inputs, samples)

"""RankMatch's loss against a re-statement of the official training step."""
import copy

import pytest
import torch
import torch.nn.functional as F

from mmseg.registry import MODELS

import mmsemi.models  # noqa: F401
from _head_oracles import official_forward_with_perturbation
from _tiny import (fix_cutmix_boxes, tiny_segmentor_cfg, to_device,
                   unimatch_batch)
from mmsemi.models.losses.rank_aware_kl_loss import permutation_table


def _model(**train_cfg):
    torch.manual_seed(0)
    return MODELS.build(dict(type='RankMatch', segmentor=tiny_segmentor_cfg(),
                             semi_train_cfg=train_cfg))


def _boxes(size, device='cpu'):
    box1 = torch.zeros(2, size, size, dtype=torch.bool, device=device)
    box1[0, 2:12, 5:20] = True
    box2 = torch.zeros(2, size, size, dtype=torch.bool, device=device)
    box2[1, 20:30, 0:9] = True
    return [box1, box2]


def _official_agents(feat_w, feat_s, num):
    """The official selection: a (B, M, N) cache of |cos| to the selected
    pixels, selected pixels scored 10, argmin of the row maxima; agents
    returned in ascending pixel order."""
    batch, channels = feat_w.shape[:2]
    q = feat_w.permute(0, 2, 3, 1).reshape(batch, -1, channels)
    q_s = feat_s.permute(0, 2, 3, 1).reshape(batch, -1, channels)
    unit = F.normalize(q, p=2, dim=-1)
    pixels = unit.shape[1]
    device = feat_w.device
    images = torch.arange(batch, device=device)
    chosen = torch.zeros(batch, pixels, dtype=torch.bool, device=device)
    start = torch.randint(pixels, (batch, 1, 1), device=device)
    chosen[images, start.view(-1)] = True
    current = unit[images, start.view(-1)]
    cache = torch.empty(batch, pixels, num, device=device)
    for m in range(1, num):
        cache[:, :, m - 1] = torch.einsum('bnd,bd->bn', unit, current).abs()
        scores = cache[:, :, :m].clone()
        scores[chosen] = 10
        nxt = scores.amax(-1).argmin(-1)
        current = unit[images, nxt]
        chosen[images, nxt] = True
    return (q[chosen].view(batch, num, channels),
            q_s[chosen].view(batch, num, channels))


def _official_rank_loss(feat_w, feat_s, num):
    """Correlation softmax over all agents, PL over the teacher's top-4 in
    probability space on a (B, h, w, 24, N) expansion, KLDivLoss 'mean'."""
    agents_w, agents_s = _official_agents(feat_w, feat_s, num)
    corr_w = torch.einsum('bchw,bnc->bhwn', feat_w, agents_w).softmax(-1)
    corr_s = torch.einsum('bchw,bnc->bhwn', feat_s, agents_s).softmax(-1)
    table = permutation_table(4, device=feat_w.device)
    index = corr_w.topk(4, dim=-1).indices[:, :, :, table]
    expand = (-1, -1, -1, table.shape[0], -1)
    vals_w = corr_w.unsqueeze(3).expand(*expand).gather(-1, index)
    vals_s = corr_s.unsqueeze(3).expand(*expand).gather(-1, index)
    rank_w = vals_w[..., 0] / (vals_w.sum(-1) + 1e-10)
    rank_s = vals_s[..., 0] / (vals_s.sum(-1) + 1e-10)
    for i in range(1, 4):
        rank_w = rank_w * vals_w[..., i] / (vals_w[..., i:].sum(-1) + 1e-10)
        rank_s = rank_s * vals_s[..., i] / (vals_s[..., i:].sum(-1) + 1e-10)
    return torch.nn.KLDivLoss(reduction='mean')((rank_s + 1e-10).log(),
                                                rank_w)


def _official_step(student, inputs, samples, boxes, thresh, num_agents):
    """The official RankMatch iteration, with the CutMix partner of image i
    being image i-1 of the same batch (the model returns the ASPP output
    with its predictions)."""
    size = inputs['sup'].shape[-2:]
    up = lambda t: F.interpolate(t, size=size, mode='bilinear',  # noqa
                                 align_corners=True)
    head = student.decode_head
    aspp = []
    hook = head.aspp_project.register_forward_hook(
        lambda mod, args, out: aspp.append(out))
    x_l, x_w = inputs['sup'], inputs['unsup_weak']
    mask_x = torch.stack([s.gt_sem_seg.data[0] for s in samples['sup']])
    ignore_mask = torch.stack(
        [s.gt_sem_seg.data[0] for s in samples['unsup_weak']])
    student.eval()
    with torch.no_grad():
        pred_mix = up(student._forward(x_w)).roll(1, 0)
        feat_mix = aspp.pop().roll(1, 0)
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
    preds, preds_fp = official_forward_with_perturbation(head, feats, 0.5)
    feat_u_w = aspp.pop().chunk(2)[0][2:]
    preds, preds_fp = up(preds), up(preds_fp)
    pred_x, pred_u_w = preds.split([2, 2])
    pred_u_w_fp = preds_fp[2:]
    pred_s1, pred_s2 = up(student._forward(torch.cat(strong))).chunk(2)
    feat_s1, feat_s2 = aspp.pop().chunk(2)
    hook.remove()
    conf_u_w, mask_u_w = pred_u_w.detach().softmax(1).max(1)
    feat_u_w = feat_u_w.detach()
    low = feat_u_w.shape[-2:]

    def strong_loss(pred, box):
        m, c, ig = mask_u_w.clone(), conf_u_w.clone(), ignore_mask.clone()
        m[box], c[box], ig[box] = mask_mix[box], conf_mix[box], ignore_mix[box]
        loss = F.cross_entropy(pred, m, reduction='none')
        loss = loss * ((c >= thresh) & (ig != 255))
        return loss.sum() / (ig != 255).sum()

    def teacher_features(box):
        mixed = torch.where(box.unsqueeze(1).expand(-1, feat_u_w.shape[1],
                                                    -1, -1),
                            up(feat_mix), up(feat_u_w))
        return F.interpolate(mixed, size=low, mode='bilinear',
                             align_corners=True)

    loss_x = F.cross_entropy(pred_x, mask_x, ignore_index=255)
    loss_s1 = strong_loss(pred_s1, boxes[0])
    loss_s2 = strong_loss(pred_s2, boxes[1])
    loss_fp = F.cross_entropy(pred_u_w_fp, mask_u_w, reduction='none')
    loss_fp = loss_fp * ((conf_u_w >= thresh) & (ignore_mask != 255))
    loss_fp = loss_fp.sum() / (ignore_mask != 255).sum()
    loss_c1 = _official_rank_loss(teacher_features(boxes[0]), feat_s1,
                                  num_agents)
    loss_c2 = _official_rank_loss(teacher_features(boxes[1]), feat_s2,
                                  num_agents)
    total = (loss_x + 0.25 * loss_s1 + 0.25 * loss_s2 + 0.5 * loss_fp) / 2 \
        + 0.1 * (loss_c1 + loss_c2) / 2
    return total, (loss_c1, loss_c2)


@pytest.mark.device
@pytest.mark.parametrize('size', [32, 33])
@pytest.mark.parametrize('thresh', [0.0, 0.4])
def test_loss_matches_official_step(thresh, size, device):
    """The default RankMatch (only the agent count shrunk to the tiny
    feature maps). Crop 33 gives 5x5 features ((33-1)/(5-1) = 8: the
    strided feature CutMix), crop 32 gives 4x4 (the up-mix-down)."""
    model = _model(conf_thresh=thresh,
                   rank_loss=dict(num_agents=8)).to(device)
    reference = copy.deepcopy(model.student)
    log_space_model = _model(conf_thresh=thresh,
                             rank_loss=dict(num_agents=8,
                                            log_space=True)).to(device)
    no_eps_model = _model(conf_thresh=thresh,
                          rank_loss=dict(num_agents=8, eps=0.0)).to(device)
    inputs, samples = to_device(*unimatch_batch(size=size), device)
    boxes = _boxes(size, device)
    fix_cutmix_boxes(model, boxes)

    torch.manual_seed(7)
    losses = model.loss(inputs, samples)
    torch.manual_seed(7)
    expected, (rank1, rank2) = _official_step(reference, inputs, samples,
                                              boxes, thresh, 8)

    total = sum(v for k, v in losses.items() if 'loss' in k)
    torch.testing.assert_close(total, expected)
    torch.testing.assert_close(losses['unsup.loss_rank1'], 0.05 * rank1)
    torch.testing.assert_close(losses['unsup.loss_rank2'], 0.05 * rank2)
    assert rank1 > 0 and rank2 > 0
    assert set(k for k in losses if 'loss' in k) == {
        'sup.decode.loss_ce', 'unsup.loss_fp', 'unsup.loss_strong1',
        'unsup.loss_strong2', 'unsup.loss_rank1', 'unsup.loss_rank2'}

    # the log-space option is the official computation without the eps in
    # the denominators and the log
    fix_cutmix_boxes(log_space_model, boxes)
    fix_cutmix_boxes(no_eps_model, boxes)
    torch.manual_seed(7)
    log_space = log_space_model.loss(inputs, samples)
    torch.manual_seed(7)
    no_eps = no_eps_model.loss(inputs, samples)
    for key in ('unsup.loss_rank1', 'unsup.loss_rank2'):
        torch.testing.assert_close(log_space[key], no_eps[key], rtol=1e-4,
                                   atol=1e-8)


def test_rank_loss_trains_the_student_up_to_the_aspp_output():
    """Only the rank terms: the weak and partner features are targets, the
    strong features receive the gradient (through the whole student)."""
    model = _model(conf_thresh=1.01, sup_weight=0.0,
                   rank_loss=dict(num_agents=8))
    inputs, samples = unimatch_batch()
    losses = model.loss(inputs, samples)
    rank = losses['unsup.loss_rank1'] + losses['unsup.loss_rank2']
    assert rank > 0
    rank.backward()
    head = model.student.decode_head
    assert head.aspp_project.conv.weight.grad.abs().sum() > 0
    assert model.student.backbone.stem[0].weight.grad.abs().sum() > 0
    # the classifier sits after the ASPP output: no rank gradient there
    assert head.conv_seg.weight.grad is None or \
        head.conv_seg.weight.grad.abs().sum() == 0


def test_unit_components_combine_to_the_official_total():
    """Spec #26: unit losses give (1 + 0.25 + 0.25 + 0.5) / 2 + 0.1."""
    model = _model()
    cfg = model.semi_train_cfg
    assert model.rank_loss.loss_weight == 1.0  # weighted by rank_weight
    rank_weight = cfg['rank_weight'] / len(cfg['strong_branches'])
    total = cfg['sup_weight'] + 2 * cfg['strong_weight'] + \
        cfg['fp_weight'] + 2 * rank_weight
    assert total == pytest.approx(1.1)
    assert model.rank_loss.num_agents == 128
    assert model.rank_loss.topk == 4
    assert model.rank_loss.reduction == 'official'
    # the official probability-space computation with its eps
    assert model.rank_loss.log_space is False
    assert model.rank_loss.eps == 1e-10


def test_too_many_agents_for_the_feature_map_is_explained():
    model = _model(rank_loss=dict(num_agents=128))
    with pytest.raises(ValueError, match=r'num_agents must lie in \[1, h'):
        model.loss(*unimatch_batch())


def test_misspelt_keys_are_reported():
    with pytest.raises(KeyError, match='rank_los'):
        _model(rank_los=dict(num_agents=8))
    with pytest.raises(TypeError, match='num_agent'):
        _model(rank_loss=dict(num_agent=8))


def test_rank_weight_scales_the_rank_terms_and_its_old_name_warns():
    inputs, samples = unimatch_batch()
    losses = {}
    for weight in (0.1, 0.4):
        model = _model(rank_weight=weight, rank_loss=dict(num_agents=8))
        torch.manual_seed(3)
        losses[weight] = model.loss(inputs, samples)
    torch.testing.assert_close(losses[0.4]['unsup.loss_rank1'],
                               4 * losses[0.1]['unsup.loss_rank1'])
    with pytest.warns(FutureWarning,
                      match='rank_loss.loss_weight.*rank_weight'):
        old = _model(rank_loss=dict(num_agents=8, loss_weight=0.4))
    assert old.semi_train_cfg['rank_weight'] == 0.4
    assert 'loss_weight' not in old.semi_train_cfg['rank_loss']
    assert old.rank_loss.loss_weight == 1.0
    with pytest.raises(KeyError, match='give only rank_weight'):
        _model(rank_weight=0.1, rank_loss=dict(loss_weight=0.1))

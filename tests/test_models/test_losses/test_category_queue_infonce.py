import math
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F

from mmseg.registry import MODELS
from mmsemi.models.losses import CategoryQueueInfoNCELoss
from mmsemi.models.losses.category_queue_infonce import (class_prototypes,
                                                         info_nce,
                                                         probability_ranks,
                                                         sample_from_mask)


def _loss(**kwargs):
    cfg = dict(
        num_classes=4,
        feat_dim=8,
        queue_length=16,
        num_queries=6,
        num_negatives=5,
        low_rank=1,
        high_rank=3)
    cfg.update(kwargs)
    return CategoryQueueInfoNCELoss(**cfg)


def _batch(n=2, c=4, d=8, h=5, w=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    student = torch.randn(n, d, h, w, generator=g, requires_grad=True)
    teacher = torch.randn(n, d, h, w, generator=g)
    probs = torch.randn(n, c, h, w, generator=g).mul(3).softmax(dim=1)
    labels = probs.argmax(dim=1)
    labels[0, 0] = 255
    is_labeled = torch.tensor([True] + [False] * (n - 1))
    return student, teacher, probs, labels, is_labeled


# ---------------------------------------------------------------- InfoNCE
def test_info_nce_identical_anchor_and_positive():
    """§13.26-27 hand-computed values."""
    e = torch.eye(4, dtype=torch.float64)  # tau=0.05 needs float64
    anchor = e[0].view(1, 1, 4)
    pos = e[0].view(1, 4)
    for n, tau in ((50, 0.5), (256, 0.5), (50, 0.05)):
        ortho = e[1].expand(1, 1, n, 4)
        out = info_nce(anchor, pos, ortho, tau)
        assert out.item() == pytest.approx(
            math.log1p(n * math.exp(-1 / tau)), rel=1e-5, abs=1e-9)
    assert info_nce(anchor, pos, e[1].expand(1, 1, 50, 4),
                    0.5).item() == pytest.approx(2.050, abs=1e-3)
    anti = (-e[0]).expand(1, 1, 256, 4)
    assert info_nce(anchor, pos, anti, 0.5).item() == pytest.approx(
        1.738, abs=1e-3)
    same = e[0].expand(1, 1, 50, 4)
    assert info_nce(anchor, pos, same, 0.5).item() == pytest.approx(
        math.log(51), rel=1e-6)


def test_info_nce_is_cross_entropy_and_monotone():
    g = torch.Generator().manual_seed(0)
    a = F.normalize(torch.randn(3, 4, 8, generator=g), dim=-1)
    p = F.normalize(torch.randn(3, 8, generator=g), dim=-1)
    k = F.normalize(torch.randn(3, 4, 5, 8, generator=g), dim=-1)
    out = info_nce(a, p, k, 0.5)
    logits = torch.cat([(a * p[:, None]).sum(-1, keepdim=True),
                        torch.einsum('cmd,cmnd->cmn', a, k)], -1) / 0.5
    ref = F.cross_entropy(
        logits.reshape(-1, 6), torch.zeros(12, dtype=torch.long),
        reduction='none').view(3, 4)
    torch.testing.assert_close(out, ref)
    # permutation invariance of the negatives
    torch.testing.assert_close(out, info_nce(a, p, k.flip(2), 0.5))
    # closer positive -> smaller loss; closer negative -> larger loss
    e = torch.eye(2)
    anchor = e[0].view(1, 1, 2)
    neg = torch.tensor([[[[0.0, 1.0]]]])
    near = F.normalize(torch.tensor([[1.0, 0.2]]), dim=-1)
    far = F.normalize(torch.tensor([[1.0, 1.0]]), dim=-1)
    assert info_nce(anchor, near, neg, 0.5) < info_nce(anchor, far, neg, 0.5)
    neg2 = F.normalize(torch.tensor([[[[1.0, 1.0]]]]), dim=-1)
    assert info_nce(anchor, near, neg2, 0.5) > info_nce(anchor, near, neg,
                                                        0.5)


# ------------------------------------------------------------ helpers
def test_sample_from_mask():
    torch.manual_seed(0)
    mask = torch.zeros(3, 20, dtype=torch.bool)
    mask[0, [2, 7, 19]] = True
    mask[1, 5] = True
    idx = sample_from_mask(mask, 50)
    assert idx.shape == (3, 50)
    assert set(idx[0].tolist()) == {2, 7, 19}  # with replacement
    assert set(idx[1].tolist()) == {5}
    assert ((idx >= 0) & (idx < 20)).all()  # empty row: in range


def test_class_prototypes_match_loop():
    g = torch.Generator().manual_seed(0)
    mask = torch.rand(4, 30, generator=g) > 0.6
    mask[3] = False
    feats = torch.randn(30, 8, generator=g)
    out = class_prototypes(mask, feats)
    # (N, D, hw) layout of the same 30 = 2 x 15 pixels
    out_map = class_prototypes(mask, feats.view(2, 15, 8).transpose(1, 2))
    for c in range(3):
        ref = feats[mask[c]].mean(0)
        torch.testing.assert_close(out[c], ref, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(out_map[c], ref, atol=1e-5, rtol=1e-5)
    assert (out[3] == 0).all() and (out_map[3] == 0).all()


def test_probability_ranks():
    g = torch.Generator().manual_seed(0)
    probs = torch.randn(10, 6, generator=g).softmax(-1)
    rank = probability_ranks(probs)
    assert (rank.sort(1).values == torch.arange(6)).all()
    assert (rank.gather(1, probs.argmax(1, keepdim=True)) == 0).all()
    assert (rank.gather(1, probs.argmin(1, keepdim=True)) == 5).all()


@pytest.mark.parametrize('labeled_negatives', [True, False])
def test_build_masks_match_per_pixel_rules(labeled_negatives):
    loss = _loss(low_rank=1, high_rank=3, labeled_negatives=labeled_negatives)
    _, _, probs, labels, is_lab = _batch(n=3)
    labels[0, 1, 1] = (labels[0, 1, 1] + 1) % 4  # a wrong GT
    g = torch.Generator().manual_seed(3)
    rel = torch.rand(labels.shape, generator=g) > 0.4
    unrel = ~rel
    m = loss.build_masks(probs, labels, is_lab, rel, unrel)
    p = probs.permute(0, 2, 3, 1).reshape(-1, 4)
    y = labels.reshape(-1)
    lab = is_lab.view(-1, 1, 1).expand_as(labels).reshape(-1)
    rel_f, unrel_f = rel.reshape(-1), unrel.reshape(-1)
    for i in range(y.numel()):
        order = p[i].argsort(descending=True).tolist()
        for c in range(4):
            r = order.index(c)
            valid = y[i] != 255
            is_rel = valid and (lab[i] or rel_f[i])
            exp_anchor = valid and y[i] == c and p[i, c] > 0.3 and is_rel
            exp_neg = (not lab[i]) and unrel_f[i] and 1 <= r < 3
            if labeled_negatives:
                exp_neg = exp_neg or (lab[i] and valid and y[i] != c
                                      and r < 1)
            assert bool(m['anchor'][c, i]) == bool(exp_anchor)
            assert bool(m['negative'][c, i]) == bool(exp_neg)
    # labeled negatives never have y == c or y == 255
    neg_lab = m['negative'] & lab[None]
    assert not (neg_lab & (y[None] == torch.arange(4)[:, None])).any()
    assert not (neg_lab & (y[None] == 255)).any()
    assert bool(neg_lab.any()) == labeled_negatives


# ------------------------------------------------------------ queues
def test_queue_fifo_order_and_length():
    loss = _loss(num_classes=2, feat_dim=1, queue_length=[5, 3])
    pushed = [[], []]
    counter = 0
    for k in (2, 0, 3, 1, 4, 7):
        keys = torch.zeros(2, max(k, 1), 1)
        valid = torch.zeros(2, max(k, 1), dtype=torch.bool)
        for c in range(2):
            for j in range(k):
                counter += 1
                keys[c, j, 0] = counter
                valid[c, j] = True
                pushed[c].append(float(counter))
        # an invalid slot in the middle must be skipped
        before = [loss.queue_contents(c).clone() for c in range(2)]
        loss.enqueue(keys, valid)
        caps = (5, 3)
        for c in range(2):
            got = loss.queue_contents(c)[:, 0].tolist()
            assert got == pushed[c][-caps[c]:]
            assert int(loss.queue_fill[c]) == min(len(pushed[c]), caps[c])
            assert 0 <= int(loss.queue_ptr[c]) < caps[c]
            if k == 0:
                torch.testing.assert_close(loss.queue_contents(c), before[c])
    # a single push larger than the capacity keeps its last rows
    fresh = _loss(num_classes=1, feat_dim=1, queue_length=3)
    keys = torch.arange(1., 9.).view(1, 8, 1)
    valid = torch.ones(1, 8, dtype=torch.bool)
    valid[0, 6] = False  # key 7 skipped
    fresh.enqueue(keys, valid)
    assert fresh.queue_contents(0)[:, 0].tolist() == [5., 6., 8.]
    assert int(fresh.queue_ptr[0]) == 7 % 3


def test_enqueue_matches_fifo_append_with_rows_of_any_validity():
    """Rows with kept keys, rows without any (their slots untouched) and
    pushes longer than the capacity, in one scatter per push."""
    caps = (4, 6, 3)
    loss = _loss(num_classes=3, feat_dim=2, queue_length=list(caps))
    gen = torch.Generator().manual_seed(0)
    pushed = [[], [], []]
    for step in range(6):
        keys = torch.randn(3, 7, 2, generator=gen)
        valid = torch.rand(3, 7, generator=gen) > 0.4
        valid[step % 3] = False  # a row without keys at every push
        before = loss.queue.clone()
        loss.enqueue(keys, valid)
        for c in range(3):
            pushed[c] += [k for k, v in zip(keys[c], valid[c]) if v]
            expected = pushed[c][-caps[c]:]
            got = loss.queue_contents(c)
            assert len(got) == len(expected)
            if expected:
                assert torch.equal(got, torch.stack(expected))
        torch.testing.assert_close(loss.queue[step % 3],
                                   before[step % 3], rtol=0, atol=0)


def test_queue_state_dict_round_trip():
    loss = _loss()
    student, teacher, probs, labels, is_lab = _batch()
    for _ in range(3):
        loss(student, teacher, probs, labels, is_lab, progress=0.3)
    assert int(loss.queue_fill.sum()) > 0
    sd = loss.state_dict()
    assert {'queue', 'queue_ptr', 'queue_fill'} <= set(sd)
    other = _loss()
    other.load_state_dict(sd)
    for name in ('queue', 'queue_ptr', 'queue_fill'):
        torch.testing.assert_close(getattr(other, name), getattr(loss, name))
    # stored keys are normalised and detached
    for c in range(4):
        keys = other.queue_contents(c)
        if len(keys):
            torch.testing.assert_close(keys.norm(dim=1),
                                       torch.ones(len(keys)))
    assert not loss.queue.requires_grad


# ------------------------------------------------------------ forward
def test_forward_identical_anchor_and_positive():
    """Two classes whose anchors equal their prototype and whose queues hold
    orthogonal keys: loss = log(1 + N exp(-1 / tau)) exactly."""
    e = torch.eye(4)
    loss = _loss(
        num_classes=3,
        feat_dim=4,
        queue_length=10,
        num_negatives=50,
        labeled_negatives=False)
    loss.enqueue(e[2].expand(3, 10, 4), torch.ones(3, 10, dtype=torch.bool))
    labels = torch.tensor([[[0, 0, 1, 1]]])
    feats = e[labels[0]].permute(2, 0, 1)[None]  # (1, 4, 1, 4)
    probs = F.one_hot(labels, 3).permute(0, 3, 1, 2).float() * 0.8 + 0.2 / 3
    student = (feats * 3).requires_grad_()  # scale invariance
    out = loss(student, feats, probs, labels, torch.tensor([True]))
    assert out.item() == pytest.approx(
        math.log1p(50 * math.exp(-2.0)), rel=1e-6)
    assert out.item() == pytest.approx(2.050, abs=1e-3)


@pytest.mark.device
def test_forward_matches_per_class_loop(device):
    loss = _loss(queue_length=12).to(device)
    student, teacher, probs, labels, is_lab = (
        t.to(device) for t in _batch(n=3, seed=1))
    g = torch.Generator().manual_seed(5)
    rel = (torch.rand(labels.shape, generator=g) > 0.3).to(device)
    loss(student, teacher, probs, labels, is_lab, rel, ~rel)  # fill queues
    torch.manual_seed(7)
    out = loss(student, teacher, probs, labels, is_lab, rel, ~rel,
               update_queue=False)
    # reference with the same random draws
    masks = loss.build_masks(probs, labels, is_lab, rel, ~rel)
    torch.manual_seed(7)
    aidx = sample_from_mask(masks['anchor'], 6)
    fill = loss.queue_fill
    nidx = (torch.rand(4, 6, 5, device=device) *
            fill[:, None, None]).long()
    zs = student.permute(0, 2, 3, 1).reshape(-1, 8)
    zt = teacher.permute(0, 2, 3, 1).reshape(-1, 8)
    losses = []
    for c in range(4):
        cand = masks['anchor'][c]
        if not cand.any() or fill[c] == 0:
            continue
        proto = zt[cand].mean(0)
        total = 0
        for m in range(6):
            a = zs[aidx[c, m]]
            keys = loss.queue[c, nidx[c, m]]
            sims = torch.cat([
                F.cosine_similarity(a, proto, dim=0)[None],
                F.cosine_similarity(a[None], keys, dim=1)
            ]) / 0.5
            total = total + F.cross_entropy(
                sims[None], torch.tensor([0], device=device))
        losses.append(total / 6)
    assert len(losses) >= 2
    ref = torch.stack(losses).mean()
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_negatives_sampled_from_filled_part_only():
    loss = _loss(labeled_negatives=False, low_rank=4)  # no pushes
    loss.queue.fill_(float('nan'))
    loss.queue[:, :2] = F.normalize(torch.randn(4, 2, 8), dim=-1)
    loss.queue_fill.fill_(2)
    loss.queue_fill[3] = 0  # empty queue: class 3 invalid, no NaN
    student, teacher, probs, labels, is_lab = _batch()
    out = loss(student, teacher, probs, labels, is_lab)
    assert torch.isfinite(out) and out.item() > 0
    out.backward()
    assert torch.isfinite(student.grad).all()


def test_gradient_only_to_student_anchors():
    loss = _loss()
    student, teacher, probs, labels, is_lab = _batch()
    teacher.requires_grad_()
    out = loss(student, teacher, probs, labels, is_lab)
    out = out + loss(student, teacher, probs, labels, is_lab)
    out.backward()
    assert teacher.grad is None
    assert student.grad.abs().sum() > 0
    # non-anchor pixels (invalid label) get no gradient
    assert (student.grad[0, :, 0, 0] == 0).all()


def test_no_valid_class_is_zero_and_finite():
    loss = _loss()
    student, teacher, probs, labels, is_lab = _batch()
    labels = torch.full_like(labels, 255)
    out = loss(student, teacher, probs, labels, is_lab)
    assert out.item() == 0 and torch.isfinite(out)
    out.backward()
    assert student.grad is not None and (student.grad == 0).all()
    # one valid class only (min_valid_classes=2) -> 0 as well
    loss2 = _loss(labeled_negatives=False)
    labels1 = torch.zeros_like(labels)
    probs1 = F.one_hot(labels1, 4).permute(0, 3, 1, 2).float()
    loss2.enqueue(torch.randn(4, 3, 8), torch.ones(4, 3, dtype=torch.bool))
    assert loss2(student, teacher, probs1, labels1, is_lab).item() == 0


def test_registry_and_resize():
    loss = MODELS.build(
        dict(
            type='CategoryQueueInfoNCELoss',
            num_classes=4,
            feat_dim=8,
            queue_length=[20, 10, 10, 10],
            num_queries=4,
            num_negatives=3,
            loss_weight=0.1))
    assert loss.loss_name == 'loss_contra'
    assert loss.queue.shape == (4, 20, 8)
    student, teacher, probs, labels, is_lab = _batch()
    big = F.interpolate(labels[:, None].float(), scale_factor=4,
                        mode='nearest')[:, 0].long()
    out = loss(student, teacher, probs, big, is_lab)
    assert torch.isfinite(out)


# ------------------------------------------------------------ distributed
def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _worker(rank, world_size, port, out_dir):
    import torch.distributed as torch_dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch_dist.init_process_group('gloo', rank=rank, world_size=world_size)
    try:
        torch.manual_seed(100 + rank)  # different local data and sampling
        loss = _loss(queue_length=[10, 7, 7, 7], push_per_class=4)
        for step in range(4):
            student, teacher, probs, labels, is_lab = _batch(
                seed=10 * step + rank)
            out = loss(student, teacher, probs, labels, is_lab)
            out.backward()
        exact = _loss(queue_length=9, push_per_class=None)
        for step in range(2):
            exact(*_batch(seed=50 + 10 * step + rank))
        torch.save(
            dict(loss.state_dict(), exact_queue=exact.queue,
                 exact_fill=exact.queue_fill),
            os.path.join(out_dir, f'{rank}.pth'))
    finally:
        torch_dist.destroy_process_group()


def test_queues_identical_on_two_ranks(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2,
             join=True)
    states = [torch.load(tmp_path / f'{r}.pth') for r in range(2)]
    for key in states[0]:
        torch.testing.assert_close(states[0][key], states[1][key])
    assert int(states[0]['queue_fill'].sum()) > 0
    # both ranks contributed: more keys than one rank's budget of 4 / step
    assert int(states[0]['queue_fill'].max()) > 4

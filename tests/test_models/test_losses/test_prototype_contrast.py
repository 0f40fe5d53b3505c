"""PrototypeContrastLoss: prototype EMA, indicator bound, sampling, the
InfoNCE value against a naive [Q, 1 + M, D] re-statement, gradients,
degenerate batches and two-rank synchronisation (spec §12.3, 7, 8, 10-15,
22)."""
import math
import os

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F

from mmseg.registry import MODELS

import mmsemi.models  # noqa: F401
from test_tools._helpers import free_port
from mmsemi.models.losses.prototype_contrast import (PrototypeContrastLoss,
                                                     gather_dot,
                                                     max_indicator,
                                                     prototype_similarity)


def _loss(**kw):
    args = dict(num_classes=3, feat_dim=4, num_anchors=8, num_negatives=5)
    args.update(kw)
    return PrototypeContrastLoss(**args)


def _batch(seed=0, num=2, size=6, classes=3, dim=4):
    gen = torch.Generator().manual_seed(seed)
    rep = torch.randn(num, dim, size, size, generator=gen)
    labels = torch.randint(0, classes, (num, size, size), generator=gen)
    valid = torch.rand(num, size, size, generator=gen) > 0.2
    return rep, labels, valid


# ------------------------------------------------------------ prototypes
def test_prototype_ema_hand_computed():
    loss = _loss(num_classes=3, feat_dim=2, momentum=0.99)
    emb = torch.tensor([[1., 2.], [3., 4.], [10., 0.]])
    lab = torch.tensor([0, 0, 2])
    loss.update_prototypes(emb, lab)
    # first observation sets the row to the raw mean
    torch.testing.assert_close(loss.prototypes,
                               torch.tensor([[2., 3.], [0., 0.], [10., 0.]]))
    assert loss.prototype_initialized.tolist() == [True, False, True]
    loss.update_prototypes(torch.tensor([[4., 5.], [0., 2.]]),
                           torch.tensor([0, 1]))
    expected = torch.tensor([[0.99 * 2 + 0.01 * 4, 0.99 * 3 + 0.01 * 5],
                             [0., 2.],  # first time: set
                             [10., 0.]])  # unseen: unchanged
    torch.testing.assert_close(loss.prototypes, expected)
    assert loss.prototype_initialized.all()


def test_class_sums_match_loop():
    loss = _loss(num_classes=5, feat_dim=3)
    gen = torch.Generator().manual_seed(1)
    emb = torch.randn(50, 3, generator=gen)
    lab = torch.randint(0, 5, (50, ), generator=gen)
    sums, counts = loss.class_sums(emb, lab)
    for c in range(5):
        torch.testing.assert_close(sums[c], emb[lab == c].sum(0))
        assert counts[c] == (lab == c).sum()


def test_invalid_pixels_never_reach_prototypes():
    loss = _loss()
    rep, labels, valid = _batch()
    rep_poisoned = rep.clone()
    rep_poisoned.permute(0, 2, 3, 1)[~valid] = 1e6
    loss(rep_poisoned, labels, valid)
    other = _loss()
    other(rep, labels, valid)
    torch.testing.assert_close(loss.prototypes, other.prototypes)


def test_prototypes_are_checkpointed_buffers():
    loss = _loss()
    assert {'prototypes', 'prototype_initialized'} <= set(loss.state_dict())
    assert MODELS.get('PrototypeContrastLoss') is PrototypeContrastLoss
    assert loss.loss_name == 'loss_contrast'


# ------------------------------------------------------------ indicator
@pytest.mark.parametrize('classes,tau,bound', [(21, 0.5, 0.7319),
                                               (19, 0.5, 0.7521)])
def test_indicator_bound_makes_official_tilt_inert(classes, tau, bound):
    assert max_indicator(classes, tau) == pytest.approx(bound, abs=1e-4)
    assert max_indicator(classes, 0.1) == pytest.approx(1.0, abs=1e-6)
    loss = _loss(num_classes=classes, feat_dim=4, tilt='official',
                 indicator_temperature=tau)
    assert loss.hard_indicator_temperature == tau
    # the most favourable prototypes: one aligned, all others opposite
    loss.prototypes[:] = -torch.tensor([1., 0., 0., 0.])
    loss.prototypes[0] = torch.tensor([1., 0., 0., 0.])
    rep = torch.tensor([1., 0., 0., 0.]).view(1, 4, 1, 1)
    ind = loss.indicator(rep)
    assert ind.max() == pytest.approx(bound, abs=1e-4)
    assert loss.hard_threshold == 0.8 > ind.max()
    # random embeddings stay below the bound too
    ind = loss.indicator(torch.randn(2, 4, 5, 5))
    assert ind.max() <= max_indicator(classes, tau) + 1e-6


def _tilt_case(tilt):
    loss = _loss(num_classes=21, feat_dim=24, tilt=tilt)
    loss.prototypes.copy_(torch.eye(21, 24) * 5)
    loss.prototype_initialized.fill_(True)
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (2, 8, 8), generator=gen)
    # pixels between noise (hard) and their prototype (easy)
    strength = torch.rand(2, 1, 8, 8, generator=gen)
    rep = loss.prototypes[labels].permute(0, 3, 1, 2) * strength + \
        torch.randn(2, 24, 8, 8, generator=gen)
    loss(rep, labels, torch.ones_like(labels, dtype=torch.bool))
    return float(loss.last_stats['hard_ratio'])


def test_official_tilt_keeps_every_pixel_sharp_tilt_selects():
    assert _tilt_case('official') == 1.0
    assert 0.05 < _tilt_case('sharp') < 0.95
    with pytest.raises(ValueError, match='tilt'):
        _loss(tilt='relative')


def test_indicator_sums_to_one_without_grad():
    loss = _loss()
    loss.prototypes.normal_()
    rep = torch.randn(2, 4, 3, 3, requires_grad=True)
    ind = loss.indicator(rep)
    assert not ind.requires_grad
    torch.testing.assert_close(ind.sum(1), torch.ones(2, 3, 3))


def test_similarity_scale_invariant_and_zero_prototype():
    protos = torch.tensor([[1., 0.], [0., 0.], [1., 1.]])
    rep = torch.randn(1, 2, 3, 3)
    sim = prototype_similarity(rep, protos)
    torch.testing.assert_close(sim, prototype_similarity(3 * rep,
                                                         7 * protos))
    assert not sim[:, 1].any()


# ------------------------------------------------------------ sampling
def _sampling_case(seed=0):
    loss = _loss(num_classes=4, num_anchors=50, num_negatives=40)
    loss.prototypes.copy_(torch.randn(4, 4, generator=torch.Generator()
                                      .manual_seed(seed)))
    labels = torch.tensor([0] * 5 + [1] * 30 + [2] * 3 + [3] * 10)
    valid = torch.ones_like(labels, dtype=torch.bool)
    valid[35:38] = False  # class 2 absent from K
    hard = valid.clone()
    hard[:5] = torch.tensor([True, False, True, False, False])
    hard[5:35] = False  # class 1 in K but without hard pixels
    return loss, labels, valid, hard


def test_anchor_sampling():
    torch.manual_seed(0)
    loss, labels, valid, hard = _sampling_case()
    idx = loss.sample(labels, valid, hard)
    assert idx['present'].tolist() == [True, True, False, True]
    assert idx['use'].tolist() == [True, False, False, True]
    anchors = idx['anchors']
    assert anchors.shape == (4, 50)
    for c in (0, 3):  # exactly Q anchors, hard pixels of the class only
        assert hard[anchors[c]].all() and (labels[anchors[c]] == c).all()
    # with replacement from a 2-pixel hard set
    assert set(anchors[0].tolist()) == {0, 2}
    assert (anchors[1] == -1).all() and (anchors[2] == -1).all()


def test_negative_sampling_classes_and_frequencies():
    torch.manual_seed(0)
    loss, labels, valid, hard = _sampling_case()
    loss.num_anchors, loss.num_negatives = 200, 100
    neg = loss.sample(labels, valid, hard)['negatives']
    neg_cls = labels[neg]
    for c in (0, 1, 3):
        assert (neg[c] >= 0).all()
        assert valid[neg[c]].all()
        assert not (neg_cls[c] == c).any()
        assert not (neg_cls[c] == 2).any()  # absent class
    # class frequencies follow softmax(cos(P_c, P_j) / tau) over K \ {c}
    protos = F.normalize(loss.prototypes, dim=1)
    cos = protos @ protos.t() / loss.temperature
    for c in (0, 3):
        others = [j for j in (0, 1, 3) if j != c]
        expected = cos[c, others].softmax(0)
        counts = torch.stack([(neg_cls[c] == j).sum() for j in others])
        total = counts.sum().float()
        chi2 = (((counts - total * expected) ** 2) /
                (total * expected)).sum()
        assert chi2 < 10.83  # chi-square with 1 dof at p = 0.001
    # uniform within class: class 1 negatives spread over its 30 pixels
    picks = neg[0][neg_cls[0] == 1]
    freq = torch.bincount(picks - 5, minlength=30).float()
    assert freq.min() > 0 and freq.max() < 3 * freq.mean()


@pytest.mark.parametrize('value', [math.nan, math.inf])
def test_non_finite_prototypes_give_a_non_finite_loss_not_an_error(value):
    """A diverging run: non-finite prototypes must not make
    torch.multinomial raise inside the forward pass; the loss is
    non-finite, so FiniteLossHook stops training and names the state."""
    torch.manual_seed(0)
    loss, labels, valid, hard = _sampling_case()
    loss.prototypes[1, 0] = value
    neg = loss.sample(labels, valid, hard)['negatives']
    for c in (0, 1, 3):  # still pixels of the other present classes
        assert (neg[c] >= 0).all()
        assert valid[neg[c]].all()
        assert not (labels[neg[c]] == c).any()
        assert not (labels[neg[c]] == 2).any()  # absent class
    rep, labels, valid = _batch(classes=3)
    loss = _loss()
    loss(rep, labels, valid)
    loss.prototypes[2] = value
    assert not torch.isfinite(loss(rep, labels, valid))


# ------------------------------------------------------------ loss value
def _naive(loss, flat, anchors, negatives, present, use):
    """Official-style: per class, materialise [Q, 1 + M, D]."""
    protos = F.normalize(loss.prototypes, dim=1)
    terms = []
    for c in range(loss.num_classes):
        if not use[c]:
            continue
        a = flat[anchors[c]]
        n = flat.detach()[negatives[c]]
        p = protos[c].expand(a.shape[0], 1, -1)
        all_feat = torch.cat([p, n], dim=1)
        logits = F.cosine_similarity(a[:, None], all_feat, dim=2)
        target = torch.zeros(a.shape[0], dtype=torch.long,
                             device=a.device)
        terms.append(F.cross_entropy(logits / loss.temperature, target))
    return sum(terms) / present.sum()


@pytest.mark.device
def test_vectorised_matches_naive_loss_and_gradients(device):
    torch.manual_seed(0)
    loss = _loss(num_classes=4, num_anchors=6, num_negatives=7).to(device)
    rep, labels, valid = (t.to(device) for t in _batch(classes=4))
    loss(rep, labels, valid)  # initialise the prototypes
    flat = rep.permute(0, 2, 3, 1).reshape(-1, 4).clone().requires_grad_()
    lab, val = labels.reshape(-1), valid.reshape(-1)
    idx = loss.sample(lab, val, val)
    assert idx['use'].sum() >= 2
    fast = loss.loss_from_indices(flat, **idx)
    grad_fast, = torch.autograd.grad(fast, flat)
    ref = _naive(loss, flat, **idx)
    grad_ref, = torch.autograd.grad(ref, flat)
    torch.testing.assert_close(fast, ref)
    torch.testing.assert_close(grad_fast, grad_ref)


def test_closed_form_orthogonal_negatives():
    tau, m = 0.5, 3
    loss = _loss(num_classes=2, feat_dim=4, num_anchors=1, num_negatives=m,
                 temperature=tau)
    loss.prototypes.copy_(torch.tensor([[2., 0., 0., 0.], [0., 1., 0., 0.]]))
    flat = torch.tensor([[3., 0., 0., 0.], [0., 5., 0., 0.]])
    value = loss.loss_from_indices(
        flat, anchors=torch.tensor([[0], [1]]),
        negatives=torch.tensor([[[1] * m], [[0] * m]]),
        present=torch.tensor([True, True]), use=torch.tensor([True, False]))
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + m)) / 2
    assert float(value) == pytest.approx(expected, rel=1e-6)


def test_gather_dot_chunks():
    anchors = torch.randn(10, 3, requires_grad=True)
    bank = torch.randn(7, 3)
    index = torch.randint(0, 7, (10, 4))
    out = gather_dot(anchors, bank, index, chunk=3)
    torch.testing.assert_close(out, (anchors[:, None] * bank[index]).sum(-1))
    out.sum().backward()
    torch.testing.assert_close(anchors.grad, bank[index].sum(1))


def test_gradients_only_through_anchors():
    torch.manual_seed(0)
    loss = _loss(num_anchors=2, num_negatives=3)
    rep, labels, valid = _batch()
    rep.requires_grad_()
    loss(rep.detach(), labels, valid)
    loss.prototypes.requires_grad_(False)
    out = loss(rep, labels, valid)
    out.backward()
    touched = rep.grad.abs().sum(1).flatten() > 0
    # anchors: at most Q per class
    assert 0 < int(touched.sum()) <= 2 * 3
    assert touched[valid.flatten()].sum() == touched.sum()


def test_normalisation_counts_classes_without_hard_pixels():
    loss = _loss(num_classes=3, num_anchors=4, num_negatives=2)
    flat = torch.randn(6, 4)
    loss.prototypes.normal_()
    anchors = torch.tensor([[0] * 4, [2] * 4, [-1] * 4])
    negatives = torch.tensor([[[2, 3]] * 4, [[0, 1]] * 4, [[-1, -1]] * 4])
    present = torch.tensor([True, True, True])
    both = loss.loss_from_indices(flat, anchors, negatives, present,
                                  torch.tensor([True, True, False]))
    one = loss.loss_from_indices(flat, anchors, negatives, present,
                                 torch.tensor([True, False, False]))
    two = loss.loss_from_indices(flat, anchors, negatives, present,
                                 torch.tensor([False, True, False]))
    torch.testing.assert_close(both, one + two)
    torch.testing.assert_close(
        both * 3, _naive(loss, flat, anchors.clamp(min=0),
                         negatives.clamp(min=0), present,
                         torch.tensor([True, True, False])) * 3)


@pytest.mark.parametrize('num_classes_present', [0, 1])
def test_degenerate_batch_is_zero_and_connected(num_classes_present):
    loss = _loss()
    rep = torch.randn(1, 4, 3, 3, requires_grad=True)
    labels = torch.zeros(1, 3, 3, dtype=torch.long)
    valid = torch.full_like(labels, num_classes_present, dtype=torch.bool)
    out = loss(rep, labels, valid)
    assert float(out) == 0.0 and out.requires_grad
    out.backward()
    assert rep.grad is not None and not rep.grad.any()


# ------------------------------------------------------------ distributed
def _worker(rank, world_size, port, out_dir):
    import torch.distributed as torch_dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch_dist.init_process_group('gloo', rank=rank, world_size=world_size)
    try:
        torch.manual_seed(100 + rank)
        loss = _loss(num_classes=4)
        for step in range(3):
            rep, labels, valid = _batch(seed=10 * step + rank, classes=4)
            if rank == 1:  # class 3 only on rank 0
                valid &= labels != 3
            loss(rep.requires_grad_(), labels, valid).backward()
        torch.save(loss.state_dict(), os.path.join(out_dir, f'{rank}.pth'))
    finally:
        torch_dist.destroy_process_group()


def test_prototypes_identical_on_two_ranks(tmp_path):
    mp.spawn(_worker, args=(2, free_port(), str(tmp_path)), nprocs=2,
             join=True)
    states = [torch.load(tmp_path / f'{r}.pth') for r in range(2)]
    for key in states[0]:
        torch.testing.assert_close(states[0][key], states[1][key],
                                   rtol=0, atol=0)
    # equal to one process on the concatenated batches
    single = _loss(num_classes=4)
    for step in range(3):
        reps, labs, vals = zip(*(_batch(seed=10 * step + r, classes=4)
                                 for r in range(2)))
        vals = (vals[0], vals[1] & (labs[1] != 3))
        single.update_prototypes(
            torch.cat([r.permute(0, 2, 3, 1)[v] for r, v in zip(reps, vals)]),
            torch.cat([lab[v] for lab, v in zip(labs, vals)]))
    torch.testing.assert_close(states[0]['prototypes'], single.prototypes)
    assert states[0]['prototype_initialized'].all()

"""RankAwareKLLoss and its Plackett-Luce pieces (spec §11, 1-17)."""
import itertools
import math

import pytest
import torch

from mmseg.registry import MODELS

import mmsemi.models  # noqa: F401
from mmsemi.models.losses.rank_aware_kl_loss import (permutation_table,
                                                     plackett_luce_log_prob,
                                                     plackett_luce_prob,
                                                     rank_kl_divergence)


def _pl(values, k=None):
    """PL probabilities of all orderings of the given positive values."""
    values = torch.as_tensor(values, dtype=torch.float64)
    table = permutation_table(values.shape[-1])
    return plackett_luce_log_prob(values.log(), table).exp()


def test_permutation_table_is_lexicographic_with_identity_first():
    table = permutation_table(4)
    assert table.shape == (24, 4)
    assert table.tolist() == [list(p) for p in
                              itertools.permutations(range(4))]
    assert table[0].tolist() == [0, 1, 2, 3]
    assert all(sorted(row) == [0, 1, 2, 3] for row in table.tolist())
    assert permutation_table(1).tolist() == [[0]]
    with pytest.raises(ValueError, match='k must be'):
        permutation_table(0)


def test_distribution_sums_to_one_and_is_non_negative():
    torch.manual_seed(0)
    logits = torch.randn(5, 7, 4) * 3
    prob = plackett_luce_log_prob(logits, permutation_table(4)).exp()
    assert prob.shape == (5, 7, 24)
    assert (prob >= 0).all()
    torch.testing.assert_close(prob.sum(-1), torch.ones(5, 7))


def test_closed_forms_for_one_and_two_items_and_the_worked_example():
    assert _pl([0.7]).tolist() == [1.0]
    torch.testing.assert_close(_pl([0.2, 0.6]),
                               torch.tensor([0.25, 0.75],
                                            dtype=torch.float64))
    # Eq. 7: c = (a, b, c) = (0.3, 0.5, 0.2), ordering (a, b, c) = row 0.
    assert _pl([0.3, 0.5, 0.2])[0].item() == pytest.approx(3 / 14)
    # every ordering by hand: u_s0 / sum * u_s1 / (u_s1 + u_s2)
    c = [0.3, 0.5, 0.2]
    expected = [c[a] * c[b] / (c[b] + c[d])
                for a, b, d in itertools.permutations(range(3))]
    torch.testing.assert_close(_pl(c), torch.tensor(expected,
                                                    dtype=torch.float64))


def test_equal_values_give_the_uniform_distribution():
    torch.testing.assert_close(_pl([0.1] * 4),
                               torch.full((24, ), 1 / 24,
                                          dtype=torch.float64))


def test_descending_values_make_identity_likeliest_and_reverse_least():
    prob = _pl([0.4, 0.3, 0.2, 0.1])
    assert prob.argmax().item() == 0
    assert permutation_table(4)[prob.argmin()].tolist() == [3, 2, 1, 0]


def test_first_position_marginal():
    values = torch.tensor([0.4, 0.1, 0.3, 0.05], dtype=torch.float64)
    prob = _pl(values)
    table = permutation_table(4)
    for m in range(4):
        marginal = prob[table[:, 0] == m].sum()
        assert marginal.item() == pytest.approx(
            (values[m] / values.sum()).item())


def test_scale_and_shift_invariance_and_both_modes_agree():
    torch.manual_seed(1)
    logits = torch.randn(3, 4, dtype=torch.float64)
    table = permutation_table(4)
    log_p = plackett_luce_log_prob(logits, table)
    torch.testing.assert_close(plackett_luce_log_prob(logits + 5.0, table),
                               log_p)
    values = logits.softmax(-1)
    prob = plackett_luce_prob(values, table, eps=0.0)
    torch.testing.assert_close(plackett_luce_prob(values * 7.0, table, 0.0),
                               prob)
    torch.testing.assert_close(prob, log_p.exp())
    prob_eps = plackett_luce_prob(values.float(), table)
    assert (prob_eps - log_p.exp().float()).abs().max() < 1e-6


def _logits(seed=0, shape=(2, 3, 3, 10), scale=2.0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen) * scale


def test_teacher_ignores_logits_below_its_top_k_student_only_top_k():
    """Exactly so in log space; the official probability space normalises
    over all agents first, which only its eps makes visible."""
    logits_t, logits_s = _logits(0), _logits(1)
    loss = rank_kl_divergence(logits_t, logits_s, log_space=True)
    top = logits_t.topk(4, dim=-1).indices
    below = torch.ones_like(logits_t, dtype=torch.bool).scatter(-1, top,
                                                                False)
    kth = logits_t.topk(4, dim=-1).values[..., -1:]
    # teacher: lower the logits outside its top-4 (they stay below the 4th)
    lowered = torch.where(below, logits_t - 3.0, logits_t)
    assert (lowered.masked_fill(~below, -1e9).amax(-1, keepdim=True)
            < kth).all()
    torch.testing.assert_close(
        rank_kl_divergence(lowered, logits_s, log_space=True), loss)
    # student: change its logits outside the teacher's top-4 freely
    changed = torch.where(below, torch.randn_like(logits_s) * 10, logits_s)
    torch.testing.assert_close(
        rank_kl_divergence(logits_t, changed, log_space=True), loss)


def _feature_loss(feat_t, feat_s, index, **kwargs):
    loss = MODELS.build(dict(type='RankAwareKLLoss', num_agents=index.shape[1],
                             **kwargs))
    return loss(feat_t, feat_s, index)


def _features(seed, shape=(2, 6, 4, 5)):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=gen)


def test_loss_is_non_negative_and_zero_for_identical_views():
    feat_t, feat_s = _features(0), _features(1)
    index = torch.tensor([[0, 3, 7, 11, 19], [1, 2, 5, 8, 13]])
    for log_space in (True, False):
        assert _feature_loss(feat_t, feat_s, index,
                             log_space=log_space) > 0
        assert _feature_loss(feat_t, feat_t.clone(), index,
                             log_space=log_space).abs() < 1e-7


def test_k_one_gives_zero_loss():
    feat_t, feat_s = _features(0), _features(1)
    index = torch.tensor([[0, 3, 7], [1, 2, 5]])
    assert _feature_loss(feat_t, feat_s, index, topk=1).item() == 0.0


def test_agent_and_pixel_relabelling_invariance():
    feat_t, feat_s = _features(2), _features(3)
    index = torch.tensor([[0, 3, 7, 11, 19], [1, 2, 5, 8, 13]])
    loss = _feature_loss(feat_t, feat_s, index)
    order = torch.tensor([3, 0, 4, 2, 1])
    torch.testing.assert_close(_feature_loss(feat_t, feat_s, index[:, order]),
                               loss)
    # permute pixels of both maps consistently, agents follow their pixels
    perm = torch.randperm(20, generator=torch.Generator().manual_seed(0))
    inverse = perm.argsort()

    def shuffle(f):
        return f.flatten(2)[:, :, perm].view_as(f)

    torch.testing.assert_close(
        _feature_loss(shuffle(feat_t), shuffle(feat_s), inverse[index]),
        loss)


def test_no_gradient_into_the_teacher_and_some_into_the_student():
    feat_t = _features(0).requires_grad_()
    feat_s = _features(1).requires_grad_()
    index = torch.tensor([[0, 3, 7, 11, 19], [1, 2, 5, 8, 13]])
    _feature_loss(feat_t, feat_s, index).backward()
    assert feat_t.grad is None
    assert feat_s.grad.abs().sum() > 0


def test_gradient_only_on_the_teacher_top_k_and_sums_to_zero():
    logits_t = _logits(0).double()
    logits_s = _logits(1).double().requires_grad_()
    rank_kl_divergence(logits_t, logits_s, log_space=True).backward()
    grad = logits_s.grad
    top = logits_t.topk(4, dim=-1).indices
    outside = torch.ones_like(grad, dtype=torch.bool).scatter(-1, top, False)
    assert grad[outside].abs().max() < 1e-12
    assert grad.gather(-1, top).sum(-1).abs().max() < 1e-12
    assert grad.gather(-1, top).abs().sum() > 0


def test_reductions_match_the_definition():
    logits_t, logits_s = _logits(0).double(), _logits(1).double()
    table = permutation_table(4)
    top = logits_t.topk(4, dim=-1).indices
    p_t = plackett_luce_log_prob(logits_t.gather(-1, top), table).exp()
    p_s = plackett_luce_log_prob(logits_s.gather(-1, top), table).exp()
    kl = p_t * (p_t.log() - p_s.log())
    official = rank_kl_divergence(logits_t, logits_s, reduction='official',
                                  log_space=True)
    per_pixel = rank_kl_divergence(logits_t, logits_s, reduction='per_pixel',
                                   log_space=True)
    torch.testing.assert_close(official, kl.mean())
    torch.testing.assert_close(per_pixel, 24 * official)
    # hand count: B * h * w * 24 terms
    assert kl.numel() == 2 * 3 * 3 * 24


def test_official_mode_is_the_probability_space_code():
    """Probability space with eps: softmax over all agents, KLDivLoss
    'mean' of log(P_s + eps) against P_t, as the official ``corr_loss``."""
    logits_t, logits_s = _logits(0), _logits(1)
    table = permutation_table(4)
    prob_t, prob_s = logits_t.softmax(-1), logits_s.softmax(-1)
    top = prob_t.topk(4, dim=-1).indices
    p_t = plackett_luce_prob(prob_t.gather(-1, top), table)
    p_s = plackett_luce_prob(prob_s.gather(-1, top), table)
    expected = torch.nn.KLDivLoss(reduction='mean')((p_s + 1e-10).log(), p_t)
    got = rank_kl_divergence(logits_t, logits_s, log_space=False)
    torch.testing.assert_close(got, expected)
    # ... and the default
    torch.testing.assert_close(rank_kl_divergence(logits_t, logits_s), got,
                               rtol=0, atol=0)
    # at these small logit gaps the log-space form is close to it
    torch.testing.assert_close(
        rank_kl_divergence(logits_t, logits_s, log_space=True), got,
        atol=1e-6, rtol=1e-4)


def test_not_invariant_to_feature_scale():
    """Raw dot products: scaling both maps by s scales the logits by s^2
    (no hidden normalisation or temperature)."""
    feat_t, feat_s = _features(0), _features(1)
    index = torch.tensor([[0, 3, 7, 11, 19], [1, 2, 5, 8, 13]])
    loss = _feature_loss(feat_t, feat_s, index)
    scaled = _feature_loss(3 * feat_t, 3 * feat_s, index)
    assert not math.isclose(loss.item(), scaled.item(), rel_tol=1e-3)


def test_large_logit_gaps_stay_finite():
    logits_t = _logits(0, scale=300.0)
    logits_s = _logits(1, scale=300.0).requires_grad_()
    for log_space in (True, False):
        loss = rank_kl_divergence(logits_t, logits_s, log_space=log_space)
        assert torch.isfinite(loss)
        grad, = torch.autograd.grad(loss, logits_s)
        assert torch.isfinite(grad).all()
    # log space keeps the exact value where probabilities underflow
    small = rank_kl_divergence(logits_t.double(), logits_s.double(),
                               log_space=True)
    torch.testing.assert_close(
        rank_kl_divergence(logits_t, logits_s, log_space=True).double(),
        small, rtol=1e-4, atol=1e-4)


def test_bad_arguments_are_reported():
    with pytest.raises(ValueError, match='reduction'):
        MODELS.build(dict(type='RankAwareKLLoss', reduction='sum'))
    with pytest.raises(ValueError, match='topk'):
        MODELS.build(dict(type='RankAwareKLLoss', num_agents=3, topk=4))
    loss = MODELS.build(dict(type='RankAwareKLLoss', num_agents=30))
    with pytest.raises(ValueError, match='num_agents'):
        loss(_features(0), _features(1))
    with pytest.raises(ValueError, match='one shape'):
        loss(_features(0), _features(1, (2, 6, 4, 4)))
    assert loss.loss_name == 'loss_rank'


def test_selects_agents_on_the_teacher_by_default():
    feat_t, feat_s = _features(0), _features(1)
    loss = MODELS.build(dict(type='RankAwareKLLoss', num_agents=5,
                             loss_weight=0.5))
    torch.manual_seed(3)
    got = loss(feat_t, feat_s)
    torch.manual_seed(3)
    from mmsemi.models.utils import select_orthogonal_agents
    index = select_orthogonal_agents(feat_t, 5)
    torch.testing.assert_close(got,
                               0.5 * _feature_loss(feat_t, feat_s, index))


def _official_feature_loss(feat_t, feat_s, index):
    """The official ``corr_loss`` on features: raw dot products with the
    agents, softmax over all agents, probability-space PL with eps,
    ``KLDivLoss('mean')`` of ``log(P_s + eps)``."""
    def correlations(feat):
        flat = feat.flatten(2)  # (B, C, hw)
        agents = flat.gather(
            2, index[:, None].expand(-1, feat.shape[1], -1))  # (B, C, N)
        return torch.einsum('bcp,bcn->bpn', flat, agents).softmax(-1)

    corr_t, corr_s = correlations(feat_t), correlations(feat_s)
    table = permutation_table(4)
    top = corr_t.topk(4, dim=-1).indices
    p_t = plackett_luce_prob(corr_t.gather(-1, top), table, 1e-10)
    p_s = plackett_luce_prob(corr_s.gather(-1, top), table, 1e-10)
    return torch.nn.KLDivLoss(reduction='mean')((p_s + 1e-10).log(), p_t)


def test_default_is_the_official_computation_on_relu_features():
    """ReLU features of unit pre-activation scale (as after BN) with 64
    channels: the default loss is the official probability-space one with
    eps; the log-space option is a different loss there."""
    gen = torch.Generator().manual_seed(0)
    pre = torch.randn(2, 64, 6, 6, generator=gen)
    feat_t = pre.relu()
    feat_s = (pre + 0.5 * torch.randn(pre.shape, generator=gen)).relu()
    index = torch.stack([torch.randperm(36, generator=gen)[:16].sort()[0]
                         for _ in range(2)])
    default = MODELS.build(dict(type='RankAwareKLLoss', num_agents=16))
    assert default.log_space is False and default.eps == 1e-10
    expected = _official_feature_loss(feat_t, feat_s, index)
    torch.testing.assert_close(default(feat_t, feat_s, index), expected)
    log_space = _feature_loss(feat_t, feat_s, index, log_space=True)
    assert abs(float(log_space) / float(expected) - 1) > 0.05

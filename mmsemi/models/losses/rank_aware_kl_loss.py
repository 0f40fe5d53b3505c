"""RankMatch's rank-aware correlation consistency (Mai et al., CVPR 2024,
Eqs. 4, 6-8)."""
import functools
import itertools
from typing import Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from mmseg.registry import MODELS
from ..utils.orthogonal_agents import gather_agents, select_orthogonal_agents
from ..utils.precision import float32_compute

REDUCTIONS = ('official', 'per_pixel')


def permutation_table(k: int, device=None) -> Tensor:
    """All ``k!`` orderings of ``0..k-1``, ``(k!, k)`` long, in the
    lexicographic order of ``itertools.permutations`` (row 0: identity).

    Cached per ``(k, device)``: building it copies a Python list to the
    device, which waits for the device; the cached table is read-only."""
    if k < 1:
        raise ValueError(f'k must be >= 1; got {k}')
    return _permutation_table(k, torch.device(device or 'cpu'))


@functools.lru_cache(maxsize=8)
def _permutation_table(k: int, device: torch.device) -> Tensor:
    return torch.tensor(list(itertools.permutations(range(k))),
                        dtype=torch.long, device=device)


def _suffix_subsets(table: Tensor) -> Tuple[Tensor, Tensor]:
    """Membership ``(2^k - 1, k)`` of the non-empty subsets of ``k``
    items (subset ``b - 1`` holds item ``j`` iff bit ``j`` of ``b`` is
    set) and, for each ordering and rank ``m``, the subset of the items
    ranked ``m`` or later, ``(k!, k)``."""
    k = table.shape[1]
    bits = 1 << torch.arange(k, device=table.device)
    members = (torch.arange(1, 2**k, device=table.device)[:, None]
               & bits).ne(0)
    # suffix m of an ordering: items sigma(m), ..., sigma(k - 1)
    suffix = bits[table].flip(-1).cumsum(-1).flip(-1) - 1
    return members, suffix


def plackett_luce_log_prob(logits: Tensor, table: Tensor) -> Tensor:
    r"""Log Plackett-Luce probabilities of all orderings of ``k`` items.

    For items with logits ``z`` (scores ``exp z``) and ordering ``sigma``::

        log P(sigma) = sum_m [ z_sigma(m) - logsumexp_{m' >= m} z_sigma(m') ]
                     = sum_j z_j - sum_m logsumexp(z over suffix m)

    The suffixes are subsets of the ``k`` items, so the ``logsumexp`` of
    each of the ``2^k - 1`` subsets is computed once (15 for ``k = 4``)
    and summed along each ordering's suffixes; finite for any logit gap.

    Args:
        logits (Tensor): ``(..., k)``.
        table (Tensor): :func:`permutation_table` ``(k!, k)``.

    Returns:
        Tensor: ``(..., k!)``; ``exp`` of it sums to 1 over the last dim.
    """
    members, suffix = _suffix_subsets(table.to(logits.device))
    subset_lse = logits[..., None, :].masked_fill(
        ~members, float('-inf')).logsumexp(-1)  # (..., 2^k - 1)
    return logits.sum(-1, keepdim=True) - subset_lse[..., suffix].sum(-1)


def plackett_luce_prob(values: Tensor, table: Tensor,
                       eps: float = 1e-10) -> Tensor:
    r"""Plackett-Luce probabilities in probability space, as the official
    ``prob2rank``: ``prod_m u_sigma(m) / (sum_{m' >= m} u_sigma(m') +
    eps)`` for positive values ``u`` ``(..., k)``; returns ``(..., k!)``."""
    ordered = values[..., table]
    tail = ordered.flip(-1).cumsum(-1).flip(-1)
    return (ordered / (tail + eps)).prod(-1)


@float32_compute
def rank_kl_divergence(logits_t: Tensor,
                       logits_s: Tensor,
                       topk: int = 4,
                       reduction: str = 'official',
                       log_space: bool = False,
                       eps: float = 1e-10) -> Tensor:
    r"""KL(teacher || student) of Plackett-Luce distributions over the
    orderings of the teacher's top-k agents of each pixel.

    ``T`` = indices of the ``k`` largest teacher logits (descending); both
    distributions are the full PL distribution over the ``k`` agents ``T``
    (the student is read at the teacher's ``T``). ``log_space=False`` (the
    default) is the official probability-space computation (softmax over
    all ``N`` agents, :func:`plackett_luce_prob` with ``eps``,
    ``log(P_s + eps)``), the one that produced the paper's numbers.
    ``log_space=True`` computes the same KL without ``eps`` from the ``k``
    gathered logits with :func:`plackett_luce_log_prob`, finite for any
    logit gap; on ReLU decoder features the two differ by far more than
    rounding, because ``eps`` is not small against the student's
    probabilities of unlikely orderings (see
    ``tools/benchmark/benchmark_rank_loss_forms.py``). Terms with
    ``P_t = 0`` contribute 0.

    Args:
        logits_t (Tensor): Teacher logits ``(..., N)``; no gradient flows
            into them.
        logits_s (Tensor): Student logits ``(..., N)``.
        topk (int): ``k``; ``k!`` orderings.
        reduction (str): 'official' (mean over pixels and the ``k!``
            orderings, ``KLDivLoss(reduction='mean')``) or 'per_pixel'
            (sum over orderings, mean over pixels; ``k!`` times larger).
        log_space (bool): See above. Defaults to False (official).
        eps (float): The official ``1e-10`` (probability space only).

    Returns:
        Tensor: scalar.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f'reduction must be one of {REDUCTIONS}; got '
                         f'{reduction!r}')
    if not 1 <= topk <= logits_t.shape[-1]:
        raise ValueError(f'topk must lie in [1, N = {logits_t.shape[-1]}]; '
                         f'got {topk}')
    logits_t = logits_t.detach()
    table = permutation_table(topk, device=logits_t.device)
    if log_space:
        top = logits_t.topk(topk, dim=-1).indices
        log_p_t = plackett_luce_log_prob(logits_t.gather(-1, top), table)
        log_p_s = plackett_luce_log_prob(logits_s.gather(-1, top), table)
        p_t = log_p_t.exp()
        kl = p_t * (log_p_t - log_p_s)
    else:
        prob_t, prob_s = logits_t.softmax(-1), logits_s.softmax(-1)
        top = prob_t.topk(topk, dim=-1).indices
        p_t = plackett_luce_prob(prob_t.gather(-1, top), table, eps)
        p_s = plackett_luce_prob(prob_s.gather(-1, top), table, eps)
        kl = torch.xlogy(p_t, p_t) - p_t * (p_s + eps).log()
    if reduction == 'official':
        return kl.mean()
    return kl.sum(-1).mean()


@MODELS.register_module()
class RankAwareKLLoss(nn.Module):
    r"""Rank-aware correlation consistency between teacher and student
    feature maps.

    Agents ``A_t = F_t[P]``, ``A_s = F_s[P]`` are the features at ``N``
    pixel positions ``P`` chosen on the teacher map by
    :func:`select_orthogonal_agents` (shared by both views). Each pixel's
    agent logits are raw dot products, ``z = f A^T`` (Eq. 4, no temperature
    or normalisation), and the loss is :func:`rank_kl_divergence`::

        L = loss_weight * mean_{pixels (, orderings)}
            KL( PL(sigma | z_t[T]) || PL(sigma | z_s[T]) )

    with ``T`` the teacher's top-``k`` agents of the pixel and ``sigma``
    the ``k!`` orderings of ``T`` (24 for ``k = 4``).

    Args:
        num_agents (int): ``N``. Defaults to 128, the paper's value
            (Table 7), which produced its reported numbers; the released
            code hard-codes 64.
        topk (int): ``k``. Defaults to 4.
        reduction (str): 'official' (mean over pixels and orderings, the
            code's ``KLDivLoss(reduction='mean')``, for which ``lambda =
            0.1`` was tuned) or 'per_pixel'.
        log_space (bool): False (default): the official probability-space
            computation with ``eps``, which produced the paper's numbers.
            True: the log-space form without ``eps`` (finite for any
            logit gap, a different loss on realistic features; see
            :func:`rank_kl_divergence`).
        eps (float): Official ``1e-10`` (probability space only).
        loss_weight (float): Multiplier. Defaults to 1.0.
        loss_name (str): Defaults to 'loss_rank'.
    """

    def __init__(self,
                 num_agents: int = 128,
                 topk: int = 4,
                 reduction: str = 'official',
                 log_space: bool = False,
                 eps: float = 1e-10,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_rank') -> None:
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f'RankAwareKLLoss: reduction must be one of '
                             f'{REDUCTIONS}; got {reduction!r}')
        if not 1 <= topk <= num_agents:
            raise ValueError(f'RankAwareKLLoss: need 1 <= topk <= '
                             f'num_agents; got topk={topk}, '
                             f'num_agents={num_agents}')
        self.num_agents = num_agents
        self.topk = topk
        self.reduction = reduction
        self.log_space = log_space
        self.eps = eps
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    @float32_compute
    def forward(self,
                feat_t: Tensor,
                feat_s: Tensor,
                agent_index: Optional[Tensor] = None) -> Tensor:
        """Args: teacher features ``feat_t`` and student features
        ``feat_s``, each ``(B, C, h, w)``; optional agent positions
        ``(B, N)`` (default: orthogonal selection on ``feat_t``). Returns a
        scalar; ``feat_t`` receives no gradient. The agent logits and the
        Plackett-Luce terms are computed in float32 (raw dot products of
        half-precision features would reorder close agents)."""
        if feat_t.shape != feat_s.shape or feat_t.dim() != 4:
            raise ValueError(
                'RankAwareKLLoss: teacher and student features must be '
                f'(B, C, h, w) of one shape; got {tuple(feat_t.shape)} and '
                f'{tuple(feat_s.shape)}')
        feat_t = feat_t.detach()
        if agent_index is None:
            agent_index = select_orthogonal_agents(feat_t, self.num_agents)
        logits_t = torch.einsum('bchw,bnc->bhwn', feat_t,
                                gather_agents(feat_t, agent_index))
        logits_s = torch.einsum('bchw,bnc->bhwn', feat_s,
                                gather_agents(feat_s, agent_index))
        return self.loss_weight * rank_kl_divergence(
            logits_t, logits_s, self.topk, self.reduction, self.log_space,
            self.eps)

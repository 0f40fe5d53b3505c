"""Entropy-based partition of pseudo-labels into reliable / unreliable pixels.

U2PL (Wang et al., CVPR 2022) declares the top ``alpha_t`` fraction of
pixels, ranked by the entropy of the teacher's softmax, *unreliable* and
keeps the rest as *reliable* pseudo-labels. ``alpha_t`` decays linearly
from ``alpha0 = 20%`` to 0 over training (Dynamic Partition Adjustment).

The threshold follows the official rule (``train_semi.py``)::

    thresh = np.percentile(H[valid], 100 - alpha_t)     # linear interpolation
    reliable = valid & (H < thresh)

computed over the whole local (per-GPU) batch, not per image (spec §4.2 step
5; ``per_image=True`` is offered as an option). Here it is computed on the
device with one sort and no host synchronisation.
"""
from typing import Union

import torch
from torch import Tensor

from .precision import float32_compute


@float32_compute
def entropy(probs: Tensor, dim: int = 1, eps: float = 1e-10) -> Tensor:
    r"""Per-pixel entropy :math:`-\sum_c p_c \log(p_c + \epsilon)`.

    ``eps`` matches the official code (``1e-10``); the result lies in
    ``[0, log K]`` up to rounding.

    Args:
        probs (Tensor): Probabilities, e.g. ``(N, K, H, W)``.
        dim (int): The class dimension. Defaults to 1.
        eps (float): Added inside the logarithm. Defaults to 1e-10.

    Returns:
        Tensor: ``probs`` with ``dim`` reduced, in float32 or wider.
    """
    return -(probs * torch.log(probs + eps)).sum(dim=dim)


def drop_rate_at(progress: float, alpha0: float = 0.2) -> float:
    r"""Unreliable fraction :math:`\alpha_t = \alpha_0 (1 - t / T)`.

    Args:
        progress (float): ``t / T`` in ``[0, 1]`` (clamped). The official
            code uses ``epoch / max_epochs`` (piecewise constant within an
            epoch); ``iter / max_iters`` is the continuous variant.
        alpha0 (float): Initial fraction. Defaults to 0.2 (20%).

    Returns:
        float: The fraction of valid pixels to drop, in ``[0, alpha0]``.
    """
    progress = min(max(float(progress), 0.0), 1.0)
    return alpha0 * (1.0 - progress)


@float32_compute
def masked_percentile(values: Tensor, valid: Tensor, q: float) -> Tensor:
    """``np.percentile(values[valid], q)`` (linear interpolation) per row.

    Vectorised and free of host syncs: invalid entries are sorted to the
    end with ``+inf`` and the two order statistics around
    ``q / 100 * (n - 1)`` are gathered, ``n`` being the number of valid
    entries of the row.

    Args:
        values (Tensor): ``(G, M)`` floating point.
        valid (Tensor): ``(G, M)`` bool.
        q (float): Percentile in ``[0, 100]``.

    Returns:
        Tensor: ``(G,)`` thresholds; ``+inf`` for rows without valid
        entries.
    """
    sorted_vals, _ = torch.where(valid, values,
                                 values.new_tensor(float('inf'))).sort(dim=1)
    n = valid.sum(dim=1)
    pos = (q / 100.0) * (n - 1).clamp(min=0).to(values.dtype)
    lo = pos.floor().long()
    hi = pos.ceil().long()
    v_lo = sorted_vals.gather(1, lo[:, None])[:, 0]
    v_hi = sorted_vals.gather(1, hi[:, None])[:, 0]
    frac = pos - lo.to(values.dtype)
    # ``v_lo + frac * (v_hi - v_lo)`` would give inf - inf when empty.
    out = torch.where(hi == lo, v_lo, v_lo + frac * (v_hi - v_lo))
    return torch.where(n > 0, out, values.new_tensor(float('inf')))


def reliable_mask(probs: Tensor,
                  valid: Tensor,
                  drop_percent: Union[float, int],
                  per_image: bool = False,
                  eps: float = 1e-10) -> Tensor:
    """Low-entropy (reliable) pixels, the official U2PL percentile rule.

    ``thresh = percentile(H[valid], 100 - drop_percent)`` with NumPy's
    default linear interpolation, over the whole batch (official,
    per-GPU) or per image (``per_image=True``), and
    ``reliable = valid & (H < thresh)``. The unreliable pixels are
    ``valid & ~reliable`` and all have ``H >= thresh``.

    With ``drop_percent <= 0`` every valid pixel is reliable. (The official
    ``H >= percentile(H, 100)`` would still drop the maximum-entropy pixel;
    that edge case is not reproduced.)

    Args:
        probs (Tensor): Teacher probabilities ``(N, K, H, W)``.
        valid (Tensor): ``(N, H, W)`` bool; invalid pixels (padding,
            label 255) are excluded from the percentile and from the mask.
        drop_percent (float): ``alpha_t`` **in percent**, the share of valid
            pixels declared unreliable, e.g. ``100 * drop_rate_at(p)``.
        per_image (bool): One threshold per image instead of per batch.
            Defaults to False (official).
        eps (float): See :func:`entropy`.

    Returns:
        Tensor: ``(N, H, W)`` bool.
    """
    if probs.dim() != 4 or valid.shape != (probs.shape[0], ) + probs.shape[2:]:
        raise ValueError('expected probs (N, K, H, W) and valid (N, H, W); '
                         f'got {tuple(probs.shape)} and {tuple(valid.shape)}')
    if not 0 <= drop_percent <= 100:
        raise ValueError(f'drop_percent must be in [0, 100]; got '
                         f'{drop_percent}')
    valid = valid.bool()
    if drop_percent <= 0:
        return valid.clone()
    ent = entropy(probs, dim=1, eps=eps)
    groups = ent.shape[0] if per_image else 1
    thresh = masked_percentile(
        ent.reshape(groups, -1), valid.reshape(groups, -1),
        100.0 - float(drop_percent))
    thresh = thresh.view(-1, 1, 1) if per_image else thresh.view(1, 1, 1)
    return valid & (ent < thresh)

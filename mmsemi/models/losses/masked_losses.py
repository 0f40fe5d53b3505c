"""Pixel losses with an explicit mask and an explicit normalisation.

Semi-supervised methods differ in what they divide a masked pixel loss by:
UniMatch/CorrMatch divide by the number of valid (non-padded) pixels, others
by the number of confident pixels or by all pixels. ``normalize`` names the
choice:

- ``'valid'``: number of valid pixels (all pixels if ``valid`` is None);
- ``'mask'``: sum of the (valid) mask weights;
- ``'all'``: ``N * H * W``.

The denominator is clamped to at least 1, so an empty mask gives exactly 0
with zero gradients. Both losses compute in float32 under autocast
(:func:`~mmsemi.models.utils.precision.float32_compute`).
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..utils.precision import float32_compute

NORMALIZE_MODES = ('valid', 'mask', 'all')


def _check_inputs(logits: Tensor, mask: Tensor, valid: Optional[Tensor],
                  normalize: str) -> None:
    if normalize not in NORMALIZE_MODES:
        raise ValueError(f'normalize must be one of {NORMALIZE_MODES}; got '
                         f'{normalize!r}')
    if logits.dim() != 4:
        raise ValueError('logits must have shape (N, K, H, W); got '
                         f'{tuple(logits.shape)}')
    pixel_shape = (logits.shape[0], ) + tuple(logits.shape[2:])
    for name, t in (('mask', mask), ('valid', valid)):
        if t is not None and tuple(t.shape) != pixel_shape:
            raise ValueError(f'{name} must have shape (N, H, W) = '
                             f'{pixel_shape}; got {tuple(t.shape)}')


def _reduce(pixel_loss: Tensor, mask: Tensor, valid: Optional[Tensor],
            normalize: str) -> Tensor:
    """``sum(pixel_loss * mask * valid) / clamp(denominator, min=1)``.

    Args:
        pixel_loss (Tensor): ``(N, H, W)`` loss per pixel, 0 where the mask
            is 0 (so that no 0 * inf can appear).
        mask (Tensor): ``(N, H, W)`` bool or float weights (detached: the
            weights select pixels, they are not trained).
        valid (Tensor, optional): ``(N, H, W)`` bool.
    """
    weight = mask.detach().to(pixel_loss.dtype)
    if valid is not None:
        weight = weight * valid.to(pixel_loss.dtype)
    total = (pixel_loss * weight).sum()
    if normalize == 'valid' and valid is not None:
        denom = valid.sum()
    elif normalize == 'mask':
        denom = weight.sum()
    else:
        # A Python number: a tensor made from it would be a host-to-device
        # copy, which waits for the device.
        return total / max(pixel_loss.numel(), 1)
    return total / denom.clamp(min=1).to(total.dtype)


@float32_compute
def masked_cross_entropy(logits: Tensor,
                         target: Tensor,
                         mask: Tensor,
                         normalize: str = 'valid',
                         valid: Optional[Tensor] = None) -> Tensor:
    r"""Masked pixel-wise cross-entropy.

    .. math::
        L = \frac{\sum_{n,i} w_{n,i} \, (-\log \mathrm{softmax}(z_{n,:,i})
            _{y_{n,i}})}{\max(D, 1)},
        \qquad w = \mathrm{mask} \cdot \mathrm{valid}

    where ``D`` is chosen by ``normalize`` (see module docstring). Target
    values outside ``[0, K)`` (e.g. 255) are allowed where the weight is 0.

    Args:
        logits (Tensor): ``(N, K, H, W)`` class scores.
        target (Tensor): ``(N, H, W)`` long class indices (detached).
        mask (Tensor): ``(N, H, W)`` bool or float per-pixel weights.
        normalize (str): 'valid' | 'mask' | 'all'. Defaults to 'valid'.
        valid (Tensor, optional): ``(N, H, W)`` bool; defaults to all True.

    Returns:
        Tensor: Scalar loss.
    """
    _check_inputs(logits, mask, valid, normalize)
    if tuple(target.shape) != tuple(mask.shape):
        raise ValueError(f'target must have shape (N, H, W) = '
                         f'{tuple(mask.shape)}; got {tuple(target.shape)}')
    used = mask != 0
    if valid is not None:
        used = used & valid
    # Unused pixels get the ignore index so out-of-range labels never reach
    # the gather inside cross_entropy and their loss and gradient are 0.
    ignore = -100
    safe_target = torch.where(used, target.detach().long(), ignore)
    pixel_loss = F.cross_entropy(
        logits, safe_target, reduction='none', ignore_index=ignore)
    return _reduce(pixel_loss, mask, valid, normalize)


@float32_compute
def masked_kl_div(logits: Tensor,
                  target_probs: Tensor,
                  mask: Tensor,
                  normalize: str = 'valid',
                  valid: Optional[Tensor] = None) -> Tensor:
    r"""Masked pixel-wise KL divergence ``KL(t || softmax(logits))``.

    .. math::
        \mathrm{KL}_{n,i} = \sum_k t_{n,k,i} (\log t_{n,k,i}
            - \log p_{n,k,i}), \quad p = \mathrm{softmax}(z),
            \quad 0 \log 0 = 0,

    reduced as ``sum(KL * mask * valid) / max(D, 1)`` with ``D`` chosen by
    ``normalize``. The target is detached: gradients reach only ``logits``.

    Args:
        logits (Tensor): ``(N, K, H, W)`` class scores of the student.
        target_probs (Tensor): ``(N, K, H, W)`` target distribution (sums to
            1 over K), e.g. the softmax of the weak view.
        mask (Tensor): ``(N, H, W)`` bool or float per-pixel weights.
        normalize (str): 'valid' | 'mask' | 'all'. Defaults to 'valid'.
        valid (Tensor, optional): ``(N, H, W)`` bool; defaults to all True.

    Returns:
        Tensor: Scalar loss.
    """
    _check_inputs(logits, mask, valid, normalize)
    if target_probs.shape != logits.shape:
        raise ValueError('target_probs must have the shape of logits '
                         f'{tuple(logits.shape)}; got '
                         f'{tuple(target_probs.shape)}')
    # F.kl_div(input=log p, target=t) = t * (log t - log p) with 0 log 0 = 0.
    pixel_loss = F.kl_div(
        logits.log_softmax(dim=1),
        target_probs.detach().to(logits.dtype),
        reduction='none').sum(dim=1)
    used = mask != 0
    if valid is not None:
        used = used & valid
    # Keeps a non-finite KL on an unused pixel from turning the sum into NaN.
    pixel_loss = torch.where(used, pixel_loss, 0.0)
    return _reduce(pixel_loss, mask, valid, normalize)


class _MaskedLoss(nn.Module):
    """Constructor and ``loss_name`` property of a loss module on
    :func:`masked_cross_entropy` (:class:`CorrelationLoss`)."""

    def __init__(self,
                 normalize: str = 'valid',
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_masked') -> None:
        super().__init__()
        if normalize not in NORMALIZE_MODES:
            raise ValueError(f'{type(self).__name__}: normalize must be one '
                             f'of {NORMALIZE_MODES}; got {normalize!r}')
        if not loss_name.startswith('loss_'):
            raise ValueError(f'{type(self).__name__}: loss_name must start '
                             f"with 'loss_' to be summed; got {loss_name!r}")
        self.normalize = normalize
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        """Key of this loss in the loss dict (starts with ``loss_``)."""
        return self._loss_name

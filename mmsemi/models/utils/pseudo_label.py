"""Confidence-thresholded pseudo-labels from segmentation logits."""
from typing import NamedTuple, Optional, Union

import torch
from torch import Tensor

from .precision import float32_compute


class PseudoLabels(NamedTuple):
    """Hard pseudo-labels with their confidence and selection mask.

    Attributes:
        labels (Tensor): Arg-max class per pixel, ``(N, H, W)`` long.
        conf (Tensor): Maximum softmax probability per pixel, ``(N, H, W)``
            floating point.
        mask (Tensor): ``(conf >= threshold) & valid``, ``(N, H, W)`` bool.
    """

    labels: Tensor
    conf: Tensor
    mask: Tensor


def _check_threshold(threshold: Union[float, Tensor], num: int, height: int,
                     width: int) -> None:
    """Reject thresholds that would broadcast against (N, H, W) by accident.

    A 1-D tensor of per-class thresholds would silently broadcast along the
    width axis, so only 0-d tensors and 3-D tensors broadcastable to
    ``(N, H, W)`` (e.g. ``(N, 1, 1)`` per image) are accepted.
    """
    if not isinstance(threshold, Tensor) or threshold.dim() == 0:
        return
    if threshold.dim() != 3:
        raise ValueError(
            'threshold must be a float, a 0-d tensor or a tensor '
            f'broadcastable to (N, H, W) = ({num}, {height}, {width}); got '
            f'shape {tuple(threshold.shape)}')
    try:
        torch.broadcast_shapes(threshold.shape, (num, height, width))
    except RuntimeError as err:
        raise ValueError(
            f'threshold of shape {tuple(threshold.shape)} does not broadcast '
            f'to (N, H, W) = ({num}, {height}, {width})') from err


@float32_compute
def class_probabilities(logits: Tensor) -> Tensor:
    """Softmax over the classes (dim 1) of ``(N, K, ...)`` logits, in
    float32 (half precision loses the resolution needed near a 0.95
    cut-off and in entropies)."""
    return logits.softmax(dim=1)


def pseudo_labels_from_logits(
        logits: Tensor,
        threshold: Union[float, Tensor],
        valid: Optional[Tensor] = None) -> PseudoLabels:
    """Turn logits into hard pseudo-labels, confidences and a keep-mask.

    ``conf = max_k softmax(logits)_k``, ``labels = argmax_k logits_k`` and
    ``mask = (conf >= threshold) & valid``. Every output is detached: pseudo
    labels are targets, never a path for gradients.

    Args:
        logits (Tensor): Class scores at input resolution, ``(N, K, H, W)``.
        threshold (float | Tensor): Confidence threshold (inclusive). A 0-d
            tensor (e.g. a dynamic threshold buffer) or a tensor
            broadcastable to ``(N, H, W)``.
        valid (Tensor, optional): ``(N, H, W)`` bool, False on pixels that
            must never be selected (padding). Defaults to all True.

    Returns:
        PseudoLabels: ``labels`` ``(N, H, W)`` long, ``conf`` ``(N, H, W)``
        float32, ``mask`` ``(N, H, W)`` bool.
    """
    if logits.dim() != 4:
        raise ValueError('logits must have shape (N, K, H, W); got shape '
                         f'{tuple(logits.shape)}')
    num, _, height, width = logits.shape
    _check_threshold(threshold, num, height, width)
    if valid is not None:
        if valid.shape != (num, height, width):
            raise ValueError(
                f'valid must have shape (N, H, W) = ({num}, {height}, '
                f'{width}); got {tuple(valid.shape)}')
        if valid.dtype != torch.bool:
            raise ValueError(f'valid must be a bool tensor; got {valid.dtype}')

    conf, labels = class_probabilities(logits.detach()).max(dim=1)
    mask = conf >= threshold
    if valid is not None:
        mask = mask & valid
    return PseudoLabels(labels=labels, conf=conf, mask=mask)

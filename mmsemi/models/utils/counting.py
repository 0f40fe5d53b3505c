"""Counting without host synchronisation."""
import torch
from torch import Tensor


def bin_counts(index: Tensor, length: int) -> Tensor:
    """``torch.bincount(index, minlength=length)`` for values in ``[0,
    length)``, ``(length, )`` long. CUDA's ``bincount`` reads the maximum
    back to the host to size its output; with the length known this does
    not."""
    index = index.flatten()
    counts = torch.zeros(length, dtype=torch.long, device=index.device)
    return counts.index_add_(0, index, torch.ones_like(index))


def one_hot_mask(labels: Tensor, num_classes: int) -> Tensor:
    """``F.one_hot(labels, num_classes).bool()`` (``(..., K)``) for labels
    in ``[0, num_classes)``; ``F.one_hot`` checks the value range by
    reading the minimum and maximum back to the host (on the CPU)."""
    classes = torch.arange(num_classes, device=labels.device)
    return labels[..., None] == classes

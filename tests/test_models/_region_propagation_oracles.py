"""Reference implementations of CorrMatch region propagation (spec §5),
used by the tests as oracles of
:func:`mmsemi.models.utils.region_propagation.propagate_regions_tiled`.

Pipeline (per training iteration, weak unlabeled images only)::

    rows   = sample_shape_rows(n)                                 # (S,)
    shapes = correlation_shapes(corr.detach(), rows, (h, w), (H, W))
    shapes = restrict_shapes(shapes, cutmix_box, valid_mix)
    labels, mask = propagate_regions_sequential(y_mix, m_mix, shapes, tau)

:func:`propagate_regions_sequential` is the official loop on dense shapes;
:func:`propagate_regions_parallel` computes every histogram at once from
the labels before any write, so it differs from the loop where an accepted
shape overlaps the core of a later shape.
"""
from typing import Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from mmseg.models.utils import resize
from mmsemi.models.utils.precision import float32_compute
from mmsemi.models.utils.region_propagation import _tau32


@torch.no_grad()
@float32_compute
def correlation_shapes(corr: Tensor,
                       rows: Tensor,
                       feat_size: Sequence[int],
                       out_size: Sequence[int],
                       align_corners: bool = True) -> Tensor:
    """Binary class-agnostic shapes from sampled correlation rows.

    For every image ``b`` and sampled row ``i = rows[s]``: ``c = C[b, i, :]``
    reshaped to ``(h, w)`` is bilinearly upsampled to ``(H, W)`` *first*
    (the code's order, not paper Eq. 7), min-max normalised over the
    ``H * W`` pixels and thresholded with a strict ``> 0.5``:
    ``shape = (c - min c) / (max c - min c) > 0.5``. A constant row
    (``max == min``) gives an empty shape (no NaN leaves this function).
    Detached: shapes never carry gradients.

    Args:
        corr (Tensor): ``(N, n, n)`` correlation map, ``n = h * w``.
        rows (Tensor): ``(S,)`` row indices (:func:`sample_shape_rows`).
        feat_size (tuple[int, int]): ``(h, w)``.
        out_size (tuple[int, int]): ``(H, W)``, the image size.
        align_corners (bool): Of the upsampling. Defaults to True.

    Returns:
        Tensor: ``(N, S, H, W)`` bool.
    """
    height, width = (int(s) for s in feat_size)
    out_h, out_w = (int(s) for s in out_size)
    if corr.dim() != 3 or corr.shape[1] != height * width:
        raise ValueError(f'correlation_shapes: corr must have shape (N, n, '
                         f'n) with n = h * w = {height * width}; got '
                         f'{tuple(corr.shape)}')
    num = corr.shape[0]
    num_rows = rows.numel()
    sampled = corr.detach()[:, rows.to(corr.device).long(), :]  # (N, S, n)
    sampled = sampled.reshape(num * num_rows, 1, height, width)
    up = resize(sampled, size=(out_h, out_w), mode='bilinear',
                align_corners=align_corners).flatten(1)  # (N*S, H*W)
    low = up.min(dim=1, keepdim=True)[0]
    span = up.max(dim=1, keepdim=True)[0] - low
    shapes = ((up - low) / span > 0.5) & (span > 0)
    return shapes.reshape(num, num_rows, out_h, out_w)


def restrict_shapes(shapes: Tensor, box: Optional[Tensor],
                    valid: Optional[Tensor]) -> Tensor:
    """``shapes & ~box & valid``: the CutMix box and padding never take part.

    Args:
        shapes (Tensor): ``(N, S, H, W)`` bool.
        box (Tensor, optional): ``(N, H, W)`` bool/0-1 CutMix box (True
            inside the pasted region).
        valid (Tensor, optional): ``(N, H, W)`` bool, False on padding (of
            the CutMix-ed ignore map).

    Returns:
        Tensor: ``(N, S, H, W)`` bool.
    """
    out = shapes.bool()
    if box is not None:
        out = out & ~box.bool()[:, None]
    if valid is not None:
        out = out & valid.bool()[:, None]
    return out


def _check(labels: Tensor, conf_mask: Tensor, shapes: Tensor) -> None:
    if shapes.dim() != 4 or labels.dim() != 3:
        raise ValueError('region propagation: labels must be (N, H, W) and '
                         f'shapes (N, S, H, W); got {tuple(labels.shape)} '
                         f'and {tuple(shapes.shape)}')
    pix = (shapes.shape[0], ) + tuple(shapes.shape[2:])
    for name, t in (('labels', labels), ('conf_mask', conf_mask)):
        if tuple(t.shape) != pix:
            raise ValueError(f'region propagation: {name} must have shape '
                             f'{pix}; got {tuple(t.shape)}')
    if shapes.dtype != torch.bool or conf_mask.dtype != torch.bool:
        raise ValueError('region propagation: shapes and conf_mask must be '
                         'bool tensors')


@torch.no_grad()
def propagate_regions_sequential(labels: Tensor, conf_mask: Tensor,
                                shapes: Tensor, tau: Union[float, Tensor]
                                ) -> Tuple[Tensor, Tensor]:
    """Official sequential region propagation (spec §5.2), for parity.

    For each image and each shape in index order (``region`` = the shape,
    already restricted with :func:`restrict_shapes`)::

        core = region & M0                      # M0 = conf_mask, never updated
        skip if |core| == 0 or |core| / |region| < tau     # r1 >= tau passes
        hist = counts of the CURRENT labels over core pixels only
        k* = most frequent class (ties -> smallest class index)
        skip unless hist[k*] / |core| > tau                # r2 > tau, strict
        labels[region] = k*;  mask[region] = True

    Later shapes see (and may overwrite) the labels written by earlier ones,
    so the result depends on the shape order. Python loop of ``N * S``
    steps with host synchronisations: slow; training uses
    :func:`~mmsemi.models.utils.region_propagation.propagate_regions_tiled`
    (same result).

    Args:
        labels (Tensor): ``(N, H, W)`` long, CutMix-ed pseudo-labels.
        conf_mask (Tensor): ``(N, H, W)`` bool, ``M0 = (conf >= tau) &
            valid``.
        shapes (Tensor): ``(N, S, H, W)`` bool, restricted shapes.
        tau (float | Tensor): Threshold for r1 and r2.

    Returns:
        tuple[Tensor, Tensor]: new labels ``(N, H, W)`` long and expanded
        mask ``(N, H, W)`` bool (``mask >= conf_mask``); inputs are not
        modified.
    """
    _check(labels, conf_mask, shapes)
    tau = _tau32(tau, labels.device)
    labels = labels.clone()
    mask = conf_mask.clone()
    for b in range(shapes.shape[0]):
        for s in range(shapes.shape[1]):
            region = shapes[b, s]
            core = region & conf_mask[b]
            core_size = core.sum()
            if core_size == 0:
                continue
            r1 = core_size / region.sum()  # float32, as in the code
            if r1 < tau:
                continue
            classes, counts = torch.unique(labels[b][core],
                                           return_counts=True)
            if counts.max() / counts.sum() > tau:
                labels[b][region] = classes[counts.argmax()]
                mask[b] = mask[b] | region
    return labels, mask


@torch.no_grad()
@float32_compute
def propagate_regions_parallel(labels: Tensor,
                      conf_mask: Tensor,
                      shapes: Tensor,
                      tau: Union[float, Tensor],
                      num_classes: int,
                      return_accepted: bool = False):
    """Vectorised region propagation (no Python loop over shapes/images).

    Same tests as :func:`propagate_regions_sequential` (``|core| > 0``,
    ``r1 = |core| / |region| >= tau``, ``r2 = hist[k*] / |core| > tau``,
    ``k*`` = most frequent class with ties to the smallest index, histogram
    over the selected core pixels only), but:

    1. all ``N x S`` class histograms are computed at once
       (``bmm(shapes, one_hot(labels) * M0)``) from the labels **before
       any write**;
    2. every accepted shape is then painted with its ``k*``, and where
       accepted shapes overlap the **last** one (highest shape index) wins,
       via a max over the shape index; the mask becomes
       ``conf_mask | union(accepted shapes)``.

    Where it may differ from the reference: in the sequential loop the
    histogram of shape ``s`` counts the labels as already rewritten by the
    earlier accepted shapes ``s' < s``. So the two agree exactly whenever
    no accepted shape's region intersects the core of a later shape (in
    particular when the shapes that pass the r1 test are pairwise
    disjoint); otherwise a later shape may get a different ``k*`` or a
    different r2 decision. ``r1`` does not depend on the labels, so the r1
    decisions are always identical. Painting order (last accepted wins) is
    the same in both.

    Cost: one ``(N, S, H*W) x (N, H*W, K + 2)`` float32 matmul (the shapes
    are copied to float32: about 420 MB for 8 images, 128 shapes,
    321x321) gives all histograms, core and region sizes; painting touches
    only the pixels of accepted shapes (``scatter_reduce`` with ``amax``
    of the shape index). Host syncs: the input check and two ``nonzero``
    (against ``3 N S`` in the loop). Counts are exact in float32 (below
    2**24 pixels per image; autocast is disabled for the matmul).

    Args:
        labels (Tensor): ``(N, H, W)`` long; every pixel of ``conf_mask``
            must hold a class in ``[0, num_classes)``.
        conf_mask (Tensor): ``(N, H, W)`` bool ``M0``.
        shapes (Tensor): ``(N, S, H, W)`` bool, restricted shapes.
        tau (float | Tensor): Threshold for r1 and r2.
        num_classes (int): ``K``.
        return_accepted (bool): Also return the ``(N, S)`` bool accepted
            flags (for logging acceptance rates). Defaults to False.

    Returns:
        tuple: new labels ``(N, H, W)`` long, expanded mask ``(N, H, W)``
        bool [, accepted ``(N, S)`` bool].
    """
    _check(labels, conf_mask, shapes)
    num, num_shapes = shapes.shape[:2]
    tau = _tau32(tau, labels.device)
    if bool((labels[conf_mask] < 0).any()
            | (labels[conf_mask] >= num_classes).any()):
        raise ValueError('propagate_regions: confident pixels must hold '
                         f'labels in [0, {num_classes})')
    # One matmul gives, per (image, shape), the class histogram over the
    # core, |core| and |region|: shapes (N, S, P) @ [one_hot(labels) * M0,
    # M0, 1] (N, P, K + 2). Unconfident pixels have zero one-hot rows, so
    # labels outside [0, K) there (e.g. 255) are harmless.
    pixels = labels[0].numel()
    conf_f = conf_mask.flatten(1).float()  # (N, P)
    rhs = shapes.new_zeros((num, pixels, num_classes + 2), dtype=torch.float)
    safe = torch.where(conf_mask, labels, 0).flatten(1)
    rhs.scatter_(2, safe[..., None], conf_f[..., None])
    rhs[..., num_classes] = conf_f
    rhs[..., num_classes + 1] = 1.0
    # Exact integer counts need float32 (float32_compute keeps autocast
    # from making it half precision).
    stats = torch.bmm(shapes.flatten(2).float(), rhs).round_().long()
    del rhs
    hist = stats[..., :num_classes]  # (N, S, K), from labels before writes
    core_size = stats[..., num_classes]
    region_size = stats[..., num_classes + 1]
    top_count, top_class = hist.max(dim=-1)  # first max -> smallest class
    r1 = core_size / region_size.clamp(min=1)  # float32, as in the code
    r2 = top_count / core_size.clamp(min=1)
    accepted = (core_size > 0) & (r1 >= tau) & (r2 > tau)  # (N, S)

    # Last accepted shape covering a pixel: max of (s + 1) over the
    # accepted shapes of its image (0 = none), scattered from the covered
    # pixels of the accepted shapes only.
    img_idx, shape_idx = accepted.nonzero(as_tuple=True)
    last = torch.zeros(num * pixels, dtype=torch.long, device=labels.device)
    if img_idx.numel() > 0:
        member, pixel = shapes[img_idx, shape_idx].flatten(1).nonzero(
            as_tuple=True)
        last.scatter_reduce_(0, img_idx[member] * pixels + pixel,
                             shape_idx[member] + 1, reduce='amax')
    last = last.view_as(labels)
    painted = last > 0
    paint = torch.gather(top_class, 1,
                         (last - 1).clamp(min=0).flatten(1)).view_as(labels)
    new_labels = torch.where(painted, paint.to(labels.dtype), labels)
    new_mask = conf_mask | painted
    if return_accepted:
        return new_labels, new_mask, accepted
    return new_labels, new_mask

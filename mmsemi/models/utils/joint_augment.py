"""Joint geometric strong augmentation of an image and its pixel maps.

The ReCo lineage (ReCo, PRCL, CSS) builds the strong unlabeled view *after*
pseudo-labelling: the image, the pseudo-label and the confidence maps go
through the same random rescale, crop, CutMix and flip. Here this runs on
batched tensors (one ``grid_sample`` per interpolation mode) with
per-sample parameters drawn from a torch generator, so label and confidence
maps stay exactly aligned with the image and confidences stay float.

Order: rescale + crop (+ pad) -> CutMix with partner ``(i + 1) mod N`` ->
horizontal flip. The photometric part of the official strong view is done
by the data pipeline on a view pixel-aligned with the weak one, i.e.
before the geometry (the official order is rescale -> CutMix ->
photometric -> flip through PIL; photometric and geometric operations
commute up to interpolation).
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .mixing import cutmix_boxes, mix
from .precision import float32_compute


class JointAugmentParams(NamedTuple):
    """Per-sample parameters of one :func:`joint_geometric_augment` call.

    Attributes:
        scale (Tensor): ``(N,)`` rescale factor of each sample.
        offset (Tensor): ``(N, 2)`` top-left (y, x) of the crop in the
            rescaled image (negative values: padding at the top/left).
        box (Tensor): ``(N, H, W)`` bool, pixels pasted from the partner.
        flip (Tensor): ``(N,)`` bool, horizontally flipped samples.
    """

    scale: Tensor
    offset: Tensor
    box: Tensor
    flip: Tensor


def _draw(num: int, generator: Optional[torch.Generator]) -> Tensor:
    device = generator.device if generator is not None else 'cpu'
    return torch.rand(num, generator=generator, device=device,
                      dtype=torch.float64)


def rescale_crop_grid(scale: Tensor, offset: Tensor, in_size: Sequence[int],
                      out_size: Sequence[int]) -> Tensor:
    """Sampling grid of a rescale by ``scale`` followed by a crop.

    Output pixel ``(i, j)`` is pixel ``(i + oy, j + ox)`` of the image
    rescaled by ``s``, i.e. source coordinate ``((i + oy + 0.5) / s - 0.5,
    (j + ox + 0.5) / s - 0.5)`` (pixel centres, ``align_corners=False``).

    Returns:
        Tensor: ``(N, H_out, W_out, 2)`` grid for ``F.grid_sample``.
    """
    (in_h, in_w), (out_h, out_w) = in_size, out_size
    dev, dt = scale.device, torch.float32
    rows = torch.arange(out_h, device=dev, dtype=dt)
    cols = torch.arange(out_w, device=dev, dtype=dt)
    s = scale.to(dt)[:, None]
    src_y = (rows[None] + offset[:, :1].to(dt) + 0.5) / s - 0.5
    src_x = (cols[None] + offset[:, 1:].to(dt) + 0.5) / s - 0.5
    # normalised coordinates of grid_sample(align_corners=False)
    gy = (2 * src_y + 1) / in_h - 1
    gx = (2 * src_x + 1) / in_w - 1
    num = scale.shape[0]
    return torch.stack([gx[:, None, :].expand(num, out_h, out_w),
                        gy[:, :, None].expand(num, out_h, out_w)], dim=-1)


def sample_rescale_crop(num: int, in_size: Sequence[int],
                        out_size: Sequence[int],
                        scale_range: Tuple[float, float],
                        generator: Optional[torch.Generator] = None
                        ) -> Tuple[Tensor, Tensor]:
    """Draw ``s ~ U(scale_range)`` and a uniform crop of the rescaled image.

    A rescaled side shorter than the crop is padded at the right/bottom
    (offset 0), as the official pipeline; otherwise the offset is uniform
    over ``[0, round(s * side) - crop]``.

    Returns:
        tuple[Tensor, Tensor]: scale ``(N,)`` and offset ``(N, 2)`` long.
    """
    low, high = scale_range
    scale = low + (high - low) * _draw(num, generator)
    offsets = []
    for side, crop in zip(in_size, out_size):
        room = ((scale * side).round() - crop).clamp(min=0)
        offsets.append(((room + 1) * _draw(num, generator)).floor()
                       .clamp(max=room).long())
    return scale.float(), torch.stack(offsets, dim=1)


@float32_compute
def joint_geometric_augment(
        image: Tensor,
        maps: Sequence[Tensor],
        fills: Sequence[float],
        scale_range: Tuple[float, float] = (0.5, 1.5),
        crop_size: Optional[Sequence[int]] = None,
        cutmix_prob: float = 1.0,
        cutmix_area: float = 0.5,
        cutmix_ratio: Tuple[float, float] = (0.5, 2.0),
        flip_prob: float = 0.5,
        generator: Optional[torch.Generator] = None
) -> Tuple[Tensor, List[Tensor], JointAugmentParams]:
    """Rescale/crop, CutMix and flip an image batch and its maps jointly.

    The image is resampled bilinearly, the maps (labels, confidences,
    masks) with nearest neighbour; pixels outside the rescaled image get
    ``0`` in the image and ``fills[k]`` in map ``k`` (ignore index for
    labels, 0 for confidences). CutMix pastes a box of ``cutmix_area`` of
    the crop (ratio range ``cutmix_ratio``; ``(0.5, 2)`` on a square crop
    spans the official box widths ``(W/2, W)``) from sample
    ``(i + 1) mod N`` of the *augmented* batch, with probability
    ``cutmix_prob`` per sample. Autocast is off inside, so the maps are
    resampled exactly (confidences stay float32).

    Args:
        image (Tensor): ``(N, C, H, W)`` floating point.
        maps (Sequence[Tensor]): Each ``(N, H, W)``, any dtype; returned
            with its dtype.
        fills (Sequence[float]): Padding value of each map.
        scale_range (tuple[float, float]): Range of the rescale factor.
        crop_size (Sequence[int], optional): Output ``(H', W')``; defaults
            to the input size.
        generator (torch.Generator, optional): Source of all random draws
            (on its device; CPU by default).

    Returns:
        tuple: augmented image ``(N, C, H', W')``, the maps ``(N, H', W')``
        and the :class:`JointAugmentParams`.
    """
    if image.dim() != 4 or len(maps) != len(fills):
        raise ValueError('joint_geometric_augment needs an (N, C, H, W) '
                         f'image and one fill per map; got image '
                         f'{tuple(image.shape)}, {len(maps)} maps, '
                         f'{len(fills)} fills')
    num, _, height, width = image.shape
    for k, m in enumerate(maps):
        if tuple(m.shape) != (num, height, width):
            raise ValueError(f'map {k} has shape {tuple(m.shape)}; expected '
                             f'(N, H, W) = {(num, height, width)}')
    out_size = tuple(crop_size) if crop_size is not None else (height, width)
    dev = image.device

    # 1. rescale + crop (+ pad) in one resampling per mode
    scale, offset = sample_rescale_crop(num, (height, width), out_size,
                                        scale_range, generator)
    # Parameters drawn on the host are copied without waiting for the
    # device's queued work (non_blocking; see cutmix_boxes).
    grid = rescale_crop_grid(scale.to(dev, non_blocking=True),
                             offset.to(dev, non_blocking=True),
                             (height, width),
                             out_size).to(image.dtype)
    out_img = F.grid_sample(image, grid, mode='bilinear',
                            padding_mode='zeros', align_corners=False)
    stacked = torch.stack([m.float() for m in maps] +
                          [torch.ones_like(image[:, 0])], dim=1)
    sampled = F.grid_sample(stacked, grid.float(), mode='nearest',
                            padding_mode='zeros', align_corners=False)
    inside = sampled[:, -1] > 0.5
    out_maps = [
        torch.where(inside, sampled[:, k],
                    torch.full_like(sampled[:, k], float(fill))).to(m.dtype)
        for k, (m, fill) in enumerate(zip(maps, fills))
    ]
    # bilinear sampling blends border pixels with the zero padding
    out_img = out_img * inside[:, None].to(out_img.dtype)

    # 2. CutMix with the next sample of the batch
    box = cutmix_boxes(num, *out_size, prob=cutmix_prob,
                       area=(cutmix_area, cutmix_area), ratio=cutmix_ratio,
                       generator=generator, device=dev)
    dst = [out_img, *out_maps]
    mixed = mix(box, dst, [t.roll(-1, dims=0) for t in dst])

    # 3. horizontal flip
    flip = (_draw(num, generator) < flip_prob).to(dev, non_blocking=True)
    flipped = []
    for t in mixed:
        sel = flip.view(-1, *([1] * (t.dim() - 1)))
        flipped.append(torch.where(sel, t.flip(-1), t))
    return flipped[0], flipped[1:], JointAugmentParams(scale, offset, box,
                                                       flip)

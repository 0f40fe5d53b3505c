"""CutMix boxes, ClassMix masks and mask-based mixing of aligned tensors
(and of lower-resolution feature maps, :func:`mix_features`).

The masks select the pixels that come from the *source* (partner) sample;
:func:`mix` applies one mask to images, labels, confidences and ignore maps
together so that they stay aligned.
"""
import functools
from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from .precision import float32_compute

DeviceType = Union[str, torch.device, None]

# Candidate boxes drawn per image and round of rejection sampling. Taking the
# first candidate that fits reproduces sequential rejection sampling exactly,
# while needing only a handful of (batch-vectorised) rounds.
_CANDIDATES_PER_ROUND = 32
_MAX_ROUNDS = 32


def _uniform(size: Tuple[int, ...], low: float, high: float,
             generator: Optional[torch.Generator]) -> Tensor:
    """Draw U(low, high) samples on the generator's device (CPU if none)."""
    device = generator.device if generator is not None else 'cpu'
    rand = torch.rand(
        size, generator=generator, device=device, dtype=torch.float64)
    return low + (high - low) * rand


def _check_range(name: str, value: Tuple[float, float], low: float,
                 high: float) -> None:
    if len(value) != 2 or not low < value[0] <= value[1] <= high:
        raise ValueError(f'{name} must be (min, max) with {low} < min <= max '
                         f'<= {high}; got {value}')


def _sample_box_sizes(
        area: Tensor, height: int, width: int, ratio: Tuple[float, float],
        generator: Optional[torch.Generator]
) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Rejection-sample (x, y, w, h) of one box per image for given areas.

    For each image the ratio and the top-left corner are redrawn until
    ``x + w <= width`` and ``y + h <= height``; the area stays fixed. Images
    whose area cannot fit within the round budget (only possible for extreme
    crop aspect ratios) get their box clipped to the crop.

    Args:
        area (Tensor): Box area in pixels per image, ``(N,)`` float64.

    Returns:
        tuple[Tensor]: x, y, w, h, each ``(N,)`` int64 on area's device.
    """
    num = area.shape[0]
    x = torch.zeros(num, dtype=torch.long, device=area.device)
    y, w, h = x.clone(), x.clone(), x.clone()
    pending = torch.ones(num, dtype=torch.bool, device=area.device)
    shape = (num, _CANDIDATES_PER_ROUND)
    for _ in range(_MAX_ROUNDS):
        r = _uniform(shape, ratio[0], ratio[1], generator)
        cand_w = torch.sqrt(area[:, None] / r).floor().long()
        cand_h = torch.sqrt(area[:, None] * r).floor().long()
        cand_x = (_uniform(shape, 0, 1, generator) * width).floor().long()
        cand_y = (_uniform(shape, 0, 1, generator) * height).floor().long()
        fits = (cand_x + cand_w <= width) & (cand_y + cand_h <= height)
        # argmax returns the first maximum, i.e. the first candidate that fits.
        first = fits.long().argmax(dim=1, keepdim=True)
        take = pending & fits.any(dim=1)
        for out, cand in ((x, cand_x), (y, cand_y), (w, cand_w),
                          (h, cand_h)):
            out[take] = cand.gather(1, first).squeeze(1)[take]
        pending &= ~take
        # One check per round on the generator's device (the CPU by
        # default): with a CPU generator it never waits for a GPU.
        if not pending.any():
            return x, y, w, h
    # Fallback for areas that never fit: clip the last candidate to the crop.
    w[pending] = cand_w[:, 0][pending].clamp(max=width)
    h[pending] = cand_h[:, 0][pending].clamp(max=height)
    x[pending] = ((width - w[pending] + 1) *
                  _uniform((num, ), 0, 1, generator)[pending]).floor().long()
    y[pending] = ((height - h[pending] + 1) *
                  _uniform((num, ), 0, 1, generator)[pending]).floor().long()
    return x, y, w, h


def cutmix_boxes(num: int,
                 height: int,
                 width: int,
                 prob: float = 0.5,
                 area: Tuple[float, float] = (0.02, 0.4),
                 ratio: Tuple[float, float] = (0.3, 1 / 0.3),
                 generator: Optional[torch.Generator] = None,
                 device: DeviceType = None) -> Tensor:
    """Sample one CutMix box per image (UniMatch's ``obtain_cutmix_box``).

    With probability ``prob`` an image gets a box, otherwise its mask is
    empty. The box area is ``U(area) * height * width`` pixels, drawn once;
    the aspect ratio ``r ~ U(ratio)`` and the top-left corner (uniform over
    the crop) are redrawn until the box fits, with box width
    ``floor(sqrt(area / r))`` and height ``floor(sqrt(area * r))``.

    Random numbers come from ``generator`` (on its device) or, if None, from
    torch's default CPU generator; the masks are built on ``device``.

    Args:
        num (int): Number of images N.
        height (int): Crop height H.
        width (int): Crop width W.
        prob (float): Probability that an image gets a box. Defaults to 0.5.
        area (tuple[float, float]): Range of the box area as a fraction of
            ``H * W``. Defaults to (0.02, 0.4).
        ratio (tuple[float, float]): Range of the aspect ratio ``r``
            (height / width of the box). Defaults to (0.3, 1 / 0.3).
        generator (torch.Generator, optional): Source of randomness.
        device (str | torch.device, optional): Device of the returned mask.
            Defaults to the CPU.

    Returns:
        Tensor: ``(N, H, W)`` bool, True inside the box.
    """
    if num < 0 or height <= 0 or width <= 0:
        raise ValueError('cutmix_boxes needs num >= 0 and a positive size; '
                         f'got num={num}, height={height}, width={width}')
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f'prob must lie in [0, 1]; got {prob}')
    _check_range('area', area, 0.0, 1.0)
    _check_range('ratio', ratio, 0.0, float('inf'))

    has_box = _uniform((num, ), 0, 1, generator) < prob
    box_area = _uniform((num, ), area[0], area[1], generator) * (
        height * width)
    x, y, w, h = _sample_box_sizes(box_area, height, width, ratio, generator)
    h = torch.where(has_box, h, torch.zeros_like(h))

    # One small host-to-device copy; non_blocking: the host does not wait
    # for the device's queued work (a pageable source is staged at once).
    x, y, w, h = torch.stack([x, y, w, h]).to(device, non_blocking=True)
    rows = torch.arange(height, device=device)
    cols = torch.arange(width, device=device)
    in_rows = (rows >= y[:, None]) & (rows < (y + h)[:, None])
    in_cols = (cols >= x[:, None]) & (cols < (x + w)[:, None])
    return in_rows[:, :, None] & in_cols[:, None, :]


def classmix_masks(labels: Tensor,
                   ignore_index: Optional[int] = 255,
                   generator: Optional[torch.Generator] = None,
                   num_classes: Optional[int] = None) -> Tensor:
    """ClassMix masks: the pixels of half of the classes in each image.

    For every image, ``ceil(n / 2)`` of its ``n`` present classes (values
    other than ``ignore_index``) are chosen uniformly without replacement, as
    in DACS, and the mask marks the pixels of those classes. Selection is
    vectorised: every (image, class) pair gets a random score, absent classes
    are ranked last, and the lowest ``ceil(n / 2)`` scores are kept.

    Args:
        labels (Tensor): Class indices, ``(N, H, W)`` integer; values outside
            ``ignore_index`` must be in ``[0, num_classes)``.
        ignore_index (int, optional): Label never selected. None disables it.
            Defaults to 255.
        generator (torch.Generator, optional): Source of randomness.
        num_classes (int, optional): Upper bound of the label values. Passing
            it avoids reading ``labels.max()`` back from the device.

    Returns:
        Tensor: ``(N, H, W)`` bool on ``labels.device``.
    """
    if labels.dim() != 3 or labels.is_floating_point():
        raise ValueError(
            'labels must be an integer tensor of shape (N, H, W); got '
            f'{labels.dtype} {tuple(labels.shape)}')
    num = labels.shape[0]
    # long: uint8 labels would wrap the -1 / num_classes fill values below.
    lab = labels.long()
    valid = torch.ones_like(lab, dtype=torch.bool) \
        if ignore_index is None else lab != ignore_index
    if num_classes is None:
        num_classes = int(torch.where(valid, lab, -1).max()) + 1 \
            if lab.numel() else 0
    # Ignored pixels go to an extra bin that is never selected.
    flat = torch.where(valid, lab, num_classes).reshape(num, -1)
    present = torch.zeros(
        num, num_classes + 1, dtype=torch.bool, device=labels.device)
    present.scatter_(1, flat, True)
    present[:, num_classes] = False

    scores = _uniform((num, num_classes + 1), 0, 1, generator).to(
        labels.device)
    scores = scores.masked_fill(~present, 2.0)
    rank = scores.argsort(dim=1).argsort(dim=1)
    num_selected = (present.sum(dim=1, keepdim=True) + 1) // 2
    selected = present & (rank < num_selected)
    return selected.gather(1, flat).reshape(labels.shape)


def mix(mask: Tensor, dst: Sequence[Tensor],
        src: Sequence[Tensor]) -> List[Tensor]:
    """Paste ``src`` into ``dst`` where ``mask`` is True, for aligned tensors.

    The inputs are not modified; each output has the dtype and shape of its
    ``dst`` (the result is differentiable with respect to both inputs).

    Args:
        mask (Tensor): ``(N, H, W)`` bool, True where the source is taken.
        dst (Sequence[Tensor]): Tensors kept outside the mask, each
            ``(N, H, W)`` or ``(N, C, H, W)``.
        src (Sequence[Tensor]): Tensors pasted inside the mask, same shapes
            and dtypes as ``dst``.

    Returns:
        list[Tensor]: One mixed tensor per (dst, src) pair.
    """
    if mask.dim() != 3 or mask.dtype != torch.bool:
        raise ValueError('mask must be a bool tensor of shape (N, H, W); got '
                         f'{mask.dtype} {tuple(mask.shape)}')
    if len(dst) != len(src):
        raise ValueError(f'mix got {len(dst)} dst tensors but {len(src)} src '
                         'tensors')
    mixed = []
    for i, (d, s) in enumerate(zip(dst, src)):
        if d.shape != s.shape or d.dtype != s.dtype:
            raise ValueError(
                f'mix: dst[{i}] is {d.dtype} {tuple(d.shape)} but src[{i}] is '
                f'{s.dtype} {tuple(s.shape)}; they must match')
        if d.dim() not in (3, 4) or (d.shape[0], ) + tuple(
                d.shape[-2:]) != tuple(mask.shape):
            raise ValueError(
                f'mix: dst[{i}] of shape {tuple(d.shape)} is not (N, H, W) or '
                f'(N, C, H, W) with (N, H, W) = {tuple(mask.shape)}')
        m = mask if d.dim() == 3 else mask[:, None]
        mixed.append(torch.where(m, s, d))
    return mixed


def _grid_stride(full: int, low: int) -> Optional[int]:
    """Stride ``s`` with ``full - 1 = s * (low - 1)``, or None when there is
    none (then align-corners sampling does not hit whole pixels)."""
    if low == 1:
        return full  # one sample, at pixel 0
    if (full - 1) % (low - 1) == 0:
        return (full - 1) // (low - 1)
    return None


@functools.lru_cache(maxsize=32)
def _align_corners_matrix(out_size: int, in_size: int) -> Tensor:
    """Linear interpolation with ``align_corners=True`` as a CPU matrix
    ``(out_size, in_size)``: output ``i`` samples input position
    ``i * (in_size - 1) / (out_size - 1)``."""
    scale = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    pos = torch.arange(out_size, dtype=torch.float64) * scale
    low = pos.floor().long().clamp(max=in_size - 1)
    high = (low + 1).clamp(max=in_size - 1)
    frac = pos - low
    matrix = torch.zeros(out_size, in_size, dtype=torch.float64)
    rows = torch.arange(out_size)
    matrix.index_put_((rows, low), 1 - frac, accumulate=True)
    matrix.index_put_((rows, high), frac, accumulate=True)
    return matrix


@functools.lru_cache(maxsize=32)
def _up_mix_down_operators(full: int, low: int, device: torch.device
                           ) -> Tuple[Tensor, Tensor, Tensor]:
    """The image pixels that the align-corners downsampling ``full -> low``
    reads (indices ``(R, )``), the upsampling ``low -> full`` restricted to
    them ``(R, low)`` and the downsampling from them ``(low, R)``, on
    ``device`` (cached there: copied from the host once)."""
    down = _align_corners_matrix(low, full)
    read = down.ne(0).any(dim=0).nonzero().squeeze(1)
    return tuple(t.to(device) for t in (
        read, _align_corners_matrix(full, low)[read], down[:, read]))


@float32_compute
def mix_features(mask: Tensor, dst: Tensor, src: Tensor) -> Tensor:
    """Paste ``src`` into ``dst`` feature maps with an image-size mask.

    Defined as RankMatch's official feature CutMix: upsample both maps
    bilinearly (``align_corners=True``) to the mask's ``H x W``, take
    ``src`` inside the mask and ``dst`` outside, and downsample the result
    bilinearly (``align_corners=True``) back to ``h x w``.

    When ``(H - 1) / (h - 1)`` and ``(W - 1) / (w - 1)`` are integers
    ``s_y, s_x`` (513/33, 321/21, 801/51: 16), the downsampling samples
    the mixed map exactly at the pixels ``(s_y i, s_x j)``, where the
    upsampled maps equal the features themselves; so the result is
    ``mix(mask[:, ::s_y, ::s_x], dst, src)``. Other sizes (e.g. 80/10)
    evaluate the same up-mix-down on the at most ``2h x 2w`` image pixels
    the downsampling reads. Neither builds a full-resolution tensor.

    Args:
        mask (Tensor): ``(N, H, W)`` bool, True where ``src`` is taken.
        dst (Tensor): Features kept outside the mask, ``(N, C, h, w)``.
        src (Tensor): Features pasted inside the mask, ``(N, C, h, w)``.

    Returns:
        Tensor: ``(N, C, h, w)``, float32 for half-precision inputs (the
        interpolation weights of the general case are not exact in half
        precision).
    """
    if dst.dim() != 4 or dst.shape != src.shape:
        raise ValueError(
            'mix_features: dst and src must be feature maps (N, C, h, w) of '
            f'one shape; got {tuple(dst.shape)} and {tuple(src.shape)}')
    height, width = mask.shape[-2:]
    low_h, low_w = dst.shape[-2:]
    stride_y, stride_x = _grid_stride(height, low_h), _grid_stride(
        width, low_w)
    if stride_y is not None and stride_x is not None:
        return mix(mask[:, ::stride_y, ::stride_x], [dst], [src])[0]
    rows, up_y, down_y = _up_mix_down_operators(height, low_h, dst.device)
    cols, up_x, down_x = _up_mix_down_operators(width, low_w, dst.device)
    up_y, down_y, up_x, down_x = (
        t.to(dst.dtype) for t in (up_y, down_y, up_x, down_x))
    read = mask[:, rows][:, :, cols]
    up = [torch.einsum('rh,nchw,qw->ncrq', up_y, t, up_x) for t in (dst, src)]
    mixed = mix(read, [up[0]], [up[1]])[0]
    return torch.einsum('hr,ncrq,wq->nchw', down_y, mixed, down_x)

"""CorrMatch region propagation (spec §5): sampled rows of the correlation
map become shapes; confident shapes paint their majority class.

:func:`propagate_regions_tiled` computes the official sequential loop
(shapes upsampled from correlation rows, restricted to outside the CutMix
box and to valid pixels, later shapes counting the labels written by
earlier ones) on tiles of the feature grid, without materialising the
``(N, S, H, W)`` shapes. The dense sequential loop and a parallel variant
are test oracles (``tests/test_models/_region_propagation_oracles.py``).

Why it is fast: every output pixel ``(i, j)`` lies in the tile of the
feature-grid cell ``(a, c)`` that holds its source coordinate (``(i s_h,
j s_w)`` with ``align_corners=True``, ``((i + 1/2) s_h - 1/2, ...)``
clamped at 0 with ``align_corners=False``) and its upsampled value is a
convex combination of that cell's four corners (8 x 8 pixels per tile at
stride 8). Since the
shape test ``(v - min) / (max - min) > 0.5`` is monotone in ``v``, a tile
whose four corners all pass (fail) lies wholly inside (outside) the shape;
only the tiles the shape boundary crosses ("mixed" tiles) are evaluated
pixel by pixel. Per-tile class histograms then give each shape's counts
with one small matmul, and the sequential loop over the ``S`` shapes
(vectorised over images) touches only the shape's own tiles.

Exactness: the corner tests carry a margin (2**-18 of the row's largest
magnitude) far above the rounding of the pixel values; in mixed tiles a
float32 estimate decides the pixels outside that margin and the others get
the arithmetic of PyTorch's CPU bilinear kernel (two fused multiply-adds,
emulated in float64); the minimum/maximum of a row are those of the
feature grid when every grid point is exactly an output pixel (scale 1/8:
crops 321, 513 and 801 at stride 8). The result then equals the dense
reference bit for bit on the CPU. Elsewhere the two may differ on pixels
whose normalised value lies within float rounding of 0.5: on CUDA (whose
kernel rounds differently) and, for other sizes, through the row
extremes, which are then taken over the corner pixels of the tiles (where
a bilinear patch takes its extremes, up to rounding).

Host synchronisations: the sparse work lists have data-dependent sizes
(three ``nonzero``: the mixed tiles, the candidate shapes' mixed tiles and
their inside tiles; one in :func:`_mixed_bits` for the pixels near the 0.5
level) and the loop bounds of every step are read once (one ``tolist``,
which also carries the input check); the loop itself does not read the
device.
"""
import functools
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from .counting import bin_counts, one_hot_mask
from .precision import float32_compute


def sample_shape_rows(n: int,
                      num: int = 128,
                      generator: Optional[torch.Generator] = None,
                      device: Union[str, torch.device, None] = None
                      ) -> Tensor:
    """Row indices of the correlation map to turn into shapes.

    ``num`` indices drawn i.i.d. (with replacement) uniformly from
    ``{0, ..., n - 2}``: the official ``torch.randint(0, n - 1, [128])``
    never draws the last position. One draw is shared by every image of the
    batch; draw again on every forward.

    Args:
        n (int): ``h * w``, the number of rows of the map (>= 2).
        num (int): Number of rows ``S``. Defaults to 128.
        generator (torch.Generator, optional): Random source; the indices
            are drawn on its device, then moved to ``device``.
        device (str | torch.device, optional): Device of the result.

    Returns:
        Tensor: ``(num,)`` long indices in ``[0, n - 2]``.
    """
    if n < 2:
        raise ValueError(f'sample_shape_rows: n must be >= 2; got {n}')
    if num < 1:
        raise ValueError(f'sample_shape_rows: num must be >= 1; got {num}')
    draw_device = generator.device if generator is not None else device
    rows = torch.randint(0, n - 1, (num, ), generator=generator,
                         device=draw_device)
    return rows.to(device) if device is not None else rows


def _tau32(tau: Union[float, Tensor], device) -> Tensor:
    """tau as a float32 0-d tensor: the official ratios are float32 tensors
    compared with a float32 threshold, so both versions round alike."""
    return torch.as_tensor(tau, dtype=torch.float32, device=device).reshape(())


class _Axis(NamedTuple):
    """Tiling of one axis: the interpolation weights ``lam0, lam1`` of
    every output index, and ``slot_pixel`` ``(cells, T)``: the output index
    of each tile slot (-1 where the tile is shorter than ``T``); ``exact``:
    every grid point is an output pixel."""
    lam0: Tensor
    lam1: Tensor
    slot_pixel: Tensor
    exact: bool


def _source_index(src: int, out: int, align_corners: bool) -> Tensor:
    """Real source coordinate of every output index, as PyTorch's CPU
    bilinear kernel computes it in float32: ``(src - 1) / (out - 1) * i``
    with ``align_corners=True``, else ``max(fma(src / out, i + 0.5, -0.5),
    0)`` (the kernel's multiply-add is fused, one rounding)."""
    index = torch.arange(out, dtype=torch.float32)
    if align_corners:
        scale = torch.tensor((src - 1) / (out - 1) if out > 1 else 0.0,
                             dtype=torch.float32)
        return scale * index
    scale = torch.tensor(src / out, dtype=torch.float32)
    fused = scale.double() * (index.double() + 0.5) - 0.5
    return fused.float().clamp(min=0)


def _tile_axis(src: int, out: int, device, align_corners: bool) -> _Axis:
    """Source indices and weights of PyTorch's bilinear upsampling and the
    tile layout."""
    real = _source_index(src, out, align_corners)
    i0 = real.floor().long().clamp(max=src - 1)
    lam1 = (real - i0).clamp(0, 1)
    lam0 = 1 - lam1
    counts = torch.bincount(i0, minlength=src)
    length = int(counts.max())
    start = torch.cumsum(counts, 0) - counts
    offset = torch.arange(out) - start[i0]
    slot_pixel = torch.full((src, length), -1, dtype=torch.long)
    slot_pixel[i0, offset] = torch.arange(out)
    # Every grid point is an output pixel: row extremes are grid extremes.
    exact = bool((lam1[start[counts > 0]] == 0).all() and (counts > 0).all())
    to = dict(device=device)
    return _Axis(lam0.to(**to), lam1.to(**to), slot_pixel.to(**to), exact)


def _lerp(a: Tensor, wa: Tensor, b: Tensor, wb: Tensor) -> Tensor:
    """``fma(a, wa, b * wb)`` rounded to float32 (PyTorch's CPU kernel)."""
    return (a.double() * wa.double() + (b * wb).double()).float()


class _Tiles:
    """Tile geometry of an ``(h, w) -> (H, W)`` upsampling and the per-tile
    views of per-pixel maps."""

    def __init__(self, feat_size: Sequence[int], out_size: Sequence[int],
                 device, align_corners: bool = True) -> None:
        self.h, self.w = (int(s) for s in feat_size)
        self.H, self.W = (int(s) for s in out_size)
        if self.H < self.h or self.W < self.w:
            raise ValueError('propagate_regions_tiled: the image size '
                             f'{(self.H, self.W)} must not be smaller than '
                             f'the feature size {(self.h, self.w)}')
        self.rows = _tile_axis(self.h, self.H, device, align_corners)
        self.cols = _tile_axis(self.w, self.W, device, align_corners)
        self.exact = self.rows.exact and self.cols.exact
        rp, cp = self.rows.slot_pixel, self.cols.slot_pixel  # (h, Th) (w, Tw)
        self.th, self.tw = rp.shape[1], cp.shape[1]
        # (cells, T) flat pixel index of each slot, H * W for empty slots.
        pix = rp[:, None, :, None] * self.W + cp[None, :, None, :]
        empty = (rp[:, None, :, None] < 0) | (cp[None, :, None, :] < 0)
        self.slot_index = torch.where(empty, self.H * self.W, pix).reshape(
            self.h * self.w, self.th * self.tw)
        # Interpolation weights of every slot: (h, Th) and (w, Tw) pairs,
        # and per cell (cells, Th) / (cells, Tw).
        self.row_lam = [torch.where(rp >= 0, lam[rp.clamp(min=0)], 0.0)
                        for lam in (self.rows.lam0, self.rows.lam1)]
        self.col_lam = [torch.where(cp >= 0, lam[cp.clamp(min=0)], 0.0)
                        for lam in (self.cols.lam0, self.cols.lam1)]
        self.row_w = [t.repeat_interleave(self.w, 0) for t in self.row_lam]
        self.col_w = [t.repeat(self.h, 1) for t in self.col_lam]
        a = torch.arange(self.h, device=device)
        c = torch.arange(self.w, device=device)
        a1 = torch.clamp(a + 1, max=self.h - 1)
        c1 = torch.clamp(c + 1, max=self.w - 1)
        # Feature index of the four corners of every cell: (cells, 4).
        self.corner_index = torch.stack([
            (a[:, None] * self.w + c[None]).flatten(),
            (a[:, None] * self.w + c1[None]).flatten(),
            (a1[:, None] * self.w + c[None]).flatten(),
            (a1[:, None] * self.w + c1[None]).flatten()
        ], 1)
        # Tiles with pixels: the last grid row/column may own none.
        self.cell_has_pixels = (self.slot_index < self.H * self.W).any(1)
        # Their indices, read once per geometry (indexing with the mask
        # at every call would read its count back to the host).
        self.pixel_cells = self.cell_has_pixels.nonzero().squeeze(1)

    @property
    def num_cells(self) -> int:
        return self.h * self.w

    def to_tiles(self, pixel_map: Tensor, fill) -> Tensor:
        """``(N, H, W)`` -> ``(N, cells, T)``, empty slots set to ``fill``."""
        flat = pixel_map.flatten(1)
        pad = flat.new_full((flat.shape[0], 1), fill)
        return torch.cat([flat, pad], 1)[:, self.slot_index]

    def from_tiles(self, tiles: Tensor, like: Tensor) -> Tensor:
        """Inverse of :meth:`to_tiles` (empty slots dropped)."""
        num = like.shape[0]
        out = like.new_empty(num, self.H * self.W + 1)
        out[:, self.slot_index] = tiles
        return out[:, :-1].reshape_as(like)

    def row_extremes(self, rows: Tensor) -> Tuple[Tensor, Tensor]:
        """Min and max of each upsampled row: ``rows`` ``(B, h * w)`` ->
        two ``(B,)``. Grid extremes when every grid point is an output
        pixel; otherwise extremes over the corner pixels of every tile (a
        bilinear patch takes its extremes at the patch corners)."""
        if self.exact:
            return rows.amin(1), rows.amax(1)
        low = high = None
        for ri in (0, self.th - 1):
            for ci in (0, self.tw - 1):
                vals = self._slot_values(rows, ri, ci)
                lo, hi = vals.amin(1), vals.amax(1)
                low = lo if low is None else torch.minimum(low, lo)
                high = hi if high is None else torch.maximum(high, hi)
        return low, high

    def _slot_values(self, rows: Tensor, ri: int, ci: int) -> Tensor:
        """Upsampled values at slot ``(min(ri, last row), min(ci, last
        column))`` of every tile with pixels: ``(B, cells')``."""
        rp, cp = self.rows.slot_pixel, self.cols.slot_pixel
        r = ((rp >= 0).sum(1) - 1).clamp(min=0, max=ri)
        c = ((cp >= 0).sum(1) - 1).clamp(min=0, max=ci)
        keep = self.pixel_cells
        ar = torch.arange(self.h, device=r.device)
        ac = torch.arange(self.w, device=c.device)
        rw = [t[ar, r].repeat_interleave(self.w)[keep] for t in self.row_lam]
        cw = [t[ac, c].repeat(self.h)[keep] for t in self.col_lam]
        x00, x01, x10, x11 = rows[:, self.corner_index[keep]].unbind(-1)
        top = _lerp(x00, cw[0], x01, cw[1])
        bottom = _lerp(x10, cw[0], x11, cw[1])
        return _lerp(top, rw[0], bottom, rw[1])


@functools.lru_cache(maxsize=16)
def _tiles(feat_size: Tuple[int, int], out_size: Tuple[int, int],
           device: torch.device, align_corners: bool) -> _Tiles:
    return _Tiles(feat_size, out_size, device, align_corners)


def _check_inputs(labels: Tensor, conf_mask: Tensor, corr: Tensor,
                  tiles: _Tiles, box: Optional[Tensor],
                  valid: Optional[Tensor]) -> None:
    if labels.dim() != 3:
        raise ValueError('propagate_regions_tiled: labels must be (N, H, W); '
                         f'got {tuple(labels.shape)}')
    for name, t in (('conf_mask', conf_mask), ('box', box), ('valid',
                                                             valid)):
        if t is not None and tuple(t.shape) != tuple(labels.shape):
            raise ValueError(f'propagate_regions_tiled: {name} must have '
                             f'shape {tuple(labels.shape)}; got '
                             f'{tuple(t.shape)}')
    if conf_mask.dtype != torch.bool:
        raise ValueError('propagate_regions_tiled: conf_mask must be bool')
    n = tiles.num_cells
    if corr.dim() != 3 or tuple(corr.shape) != (labels.shape[0], n, n):
        raise ValueError('propagate_regions_tiled: corr must have shape '
                         f'(N, n, n) = {(labels.shape[0], n, n)}; got '
                         f'{tuple(corr.shape)}')


class _RowStats(NamedTuple):
    """Per sampled row ``(N * S,)``: upsampled minimum and span, the value
    at the 0.5 level and the margin beyond which rounding cannot flip the
    shape test."""
    low: Tensor
    span: Tensor
    thresh: Tensor
    margin: Tensor


def _pair_extreme(grid: Tensor, op) -> Tensor:
    """``op`` over each 2 x 2 window: ``(B, h + 1, w + 1) -> (B, h, w)``."""
    rows = op(grid[:, :-1], grid[:, 1:])
    return op(rows[:, :, :-1], rows[:, :, 1:])


def _shape_tiles(corr: Tensor, rows: Tensor, tiles: _Tiles):
    """Classify every (image, shape, tile): wholly inside, or crossed by the
    shape boundary ("mixed"); tiles wholly outside are neither.

    Returns ``inside`` ``(N, S, cells)`` bool, ``mixed`` ``(N, S, cells)``
    bool, the sampled rows ``(N * S, h * w)`` and their
    :class:`_RowStats`."""
    num, num_rows = corr.shape[0], rows.numel()
    sampled = corr.detach()[:, rows.long(), :].float().reshape(
        num * num_rows, -1)
    low, high = tiles.row_extremes(sampled)
    span = high - low
    # Corner extremes of every cell (the last row/column has itself as
    # the next one).
    grid = sampled.view(-1, tiles.h, tiles.w)
    grid = torch.cat([grid, grid[:, -1:]], 1)
    grid = torch.cat([grid, grid[:, :, -1:]], 2)
    cmax = _pair_extreme(grid, torch.maximum).flatten(1)  # (N*S, cells)
    cmin = _pair_extreme(grid, torch.minimum).flatten(1)
    # A tile's pixels are convex combinations of its corners and the shape
    # test is monotone in the value, so corner extremes decide whole
    # tiles. The margin (2**-18 of the row's largest magnitude) exceeds
    # the rounding of the pixel values and of the normalisation (a few
    # float32 ulps); tiles within it are evaluated pixel by pixel.
    stats = _RowStats(low, span, low + 0.5 * span,
                      torch.maximum(low.abs(), high.abs()) * 2.0**-18)
    has_shape = (span > 0)[:, None]
    thresh, margin = stats.thresh[:, None], stats.margin[:, None]
    inside = (cmin > thresh + margin) & has_shape
    mixed = (cmax >= thresh - margin) & ~inside & has_shape & \
        tiles.cell_has_pixels
    shape = (num, num_rows, tiles.num_cells)
    return inside.view(shape), mixed.view(shape), sampled, stats


def _mixed_bits(entries: Tensor, sampled: Tensor, stats: _RowStats,
                tiles: _Tiles, num_rows: int) -> Tensor:
    """Pixel-wise shape test of the mixed tiles ``entries`` ``(M, 3)`` =
    ``(shape s, image b, cell c)``: ``(M, T)`` bool.

    A float32 estimate decides the pixels farther than the margin from
    the 0.5 level; the others get the exact (reference) arithmetic."""
    s, b, c = entries.unbind(1)
    row = b * num_rows + s
    x00, x01, x10, x11 = sampled[row[:, None],
                                 tiles.corner_index[c]].unbind(1)
    c0, c1 = tiles.col_w[0][c], tiles.col_w[1][c]  # (M, Tw)
    top = _lerp(x00[:, None], c0, x01[:, None], c1)[:, None, :]
    bottom = _lerp(x10[:, None], c0, x11[:, None], c1)[:, None, :]
    r0, r1 = tiles.row_w[0][c][..., None], tiles.row_w[1][c][..., None]
    estimate = (top * r0 + bottom * r1).flatten(1)  # (M, T)
    thresh = stats.thresh[row, None]
    margin = stats.margin[row, None]
    bits = estimate > thresh
    close = ((estimate - thresh).abs() <= margin).nonzero(as_tuple=True)
    if close[0].numel():
        m, t = close
        ti, tj = t // tiles.tw, t % tiles.tw
        value = _lerp(top[m, 0, tj], r0[m, ti, 0], bottom[m, 0, tj],
                      r1[m, ti, 0])
        z = (value - stats.low[row[m]]) / stats.span[row[m]]
        bits[m, t] = z > 0.5
    return bits


def _step_bounds(steps: Sequence[Tensor], num_steps: int,
                 flag: Tensor) -> Tuple[List[List[int]], bool]:
    """Slice bounds ``[0, end_0, ..., end_{S-1}]`` of each work list of
    ``steps`` (the step of every entry, sorted) and the value of the 0-d
    bool ``flag``, read to the host in one transfer."""
    ends = torch.cat([bin_counts(s, num_steps).cumsum(0) for s in steps] +
                     [flag.long().view(1)]).tolist()
    return [[0] + ends[i * num_steps:(i + 1) * num_steps]
            for i in range(len(steps))], bool(ends[-1])


class _SequentialState:
    """Labels during the sequential loop, in tile layout ``(groups, T)``
    (``group = b * cells + c``), with the slots written so far and each
    tile's class histogram of the current labels over its confident
    allowed slots (``(groups, K)``)."""

    def __init__(self, labels_t: Tensor, core_t: Tensor,
                 num_classes: int) -> None:
        self.labels = labels_t.flatten(0, 1).clone()
        self.core = core_t.flatten(0, 1)
        self.painted = torch.zeros_like(self.core)
        self.num_classes = num_classes
        self.core_count = self.core.sum(1).float()
        self.cell_hist = self.histograms(self.labels, self.core)

    def histograms(self, labels: Tensor, weight: Tensor) -> Tensor:
        """``(M, T)`` labels and bool weights -> ``(M, K)`` counts."""
        rows = torch.arange(labels.shape[0], device=labels.device)
        key = rows[:, None] * self.num_classes + labels.clamp(
            0, self.num_classes - 1)
        hist = torch.zeros(labels.shape[0] * self.num_classes,
                           device=labels.device)
        hist.index_add_(0, key.flatten(), weight.flatten().float())
        return hist.view(-1, self.num_classes)

    def paint(self, g: Tensor, slots: Tensor, write: Tensor,
              label: Tensor, whole: bool) -> None:
        """Slots ``slots`` ``(M, T)`` of tiles ``g`` whose shape was
        accepted (``write``, ``(M,)``) take ``label`` ``(M,)``; ``whole``:
        the shape covers the tiles wholly (histograms known in closed
        form)."""
        # Every tile of the step is rewritten (the rejected ones with their
        # own values): selecting the accepted ones would read their count
        # back to the host. ``g`` holds each tile once.
        slots = slots & write[:, None]
        self.labels[g] = torch.where(slots, label[:, None], self.labels[g])
        self.painted[g] |= slots
        if whole:
            hist = one_hot_mask(label, self.num_classes).float() * \
                self.core_count[g, None]
        else:
            hist = self.histograms(self.labels[g], self.core[g])
        self.cell_hist[g] = torch.where(write[:, None], hist,
                                        self.cell_hist[g])


@torch.no_grad()
@float32_compute
def propagate_regions_tiled(labels: Tensor,
                            conf_mask: Tensor,
                            corr: Tensor,
                            rows: Tensor,
                            feat_size: Sequence[int],
                            tau: Union[float, Tensor],
                            num_classes: int,
                            box: Optional[Tensor] = None,
                            valid: Optional[Tensor] = None,
                            return_accepted: bool = False,
                            align_corners: bool = True):
    """Sequential region propagation from correlation rows, on tiles.

    Same result as the official loop on dense shapes (the test oracle
    ``propagate_regions_sequential(labels, conf_mask,
    restrict_shapes(correlation_shapes(corr, rows, feat_size, (H, W)),
    box, valid), tau)``) with the same ``align_corners`` (see the module
    docstring for exactness), in ``O(N S h w)`` tile operations plus pixel
    work on the tiles the shape boundaries cross.

    Args:
        labels (Tensor): ``(N, H, W)`` long CutMix-ed pseudo-labels; every
            pixel of ``conf_mask`` outside ``box`` and inside ``valid``
            must hold a class in ``[0, num_classes)``.
        conf_mask (Tensor): ``(N, H, W)`` bool ``M0``.
        corr (Tensor): ``(N, n, n)`` correlation map, ``n = h * w``.
        rows (Tensor): ``(S,)`` sampled row indices.
        feat_size (tuple[int, int]): ``(h, w)``.
        tau (float | Tensor): Threshold of r1 (``>=``) and r2 (``>``).
        num_classes (int): ``K``.
        box (Tensor, optional): ``(N, H, W)`` CutMix box, never changed.
        valid (Tensor, optional): ``(N, H, W)`` bool, False on padding.
        return_accepted (bool): Also return the ``(N, S)`` accepted flags.
        align_corners (bool): Of the shapes' bilinear upsampling. Defaults
            to True (official).

    Returns:
        tuple: new labels ``(N, H, W)`` long, expanded mask ``(N, H, W)``
        bool [, accepted ``(N, S)`` bool].
    """
    tiles = _tiles(tuple(int(x) for x in feat_size),
                   tuple(labels.shape[1:]), labels.device, align_corners)
    _check_inputs(labels, conf_mask, corr, tiles, box, valid)
    num, num_rows = labels.shape[0], rows.numel()
    tau = _tau32(tau, labels.device)
    allowed = torch.ones_like(conf_mask)
    if box is not None:
        allowed &= ~box.bool()
    if valid is not None:
        allowed &= valid.bool()
    core_px = conf_mask & allowed
    lowest, highest = torch.where(core_px, labels, 0).aminmax()
    # Read with the loop bounds below, in one host transfer.
    invalid = (lowest < 0) | (highest >= num_classes)
    allowed_t = tiles.to_tiles(allowed, False)  # (N, cells, T)
    core_t = tiles.to_tiles(core_px, False)
    state = _SequentialState(tiles.to_tiles(labels, 0), core_t, num_classes)
    allowed_g = allowed_t.flatten(0, 1)

    inside, mixed, sampled, stats = _shape_tiles(corr, rows, tiles)
    entries = mixed.transpose(0, 1).nonzero()  # (M, 3): s, b, c, by s
    s_m, b_m, c_m = entries.unbind(1)
    g_m = b_m * tiles.num_cells + c_m
    region_m = _mixed_bits(entries, sampled, stats, tiles,
                           num_rows) & allowed_g[g_m]
    core_m = region_m & state.core[g_m]
    # |region| and |core| of every shape: whole tiles by a matmul, mixed
    # tiles from their slots.
    per_cell = torch.stack([allowed_t.sum(-1), core_t.sum(-1)], -1).float()
    sizes = torch.bmm(inside.float(), per_cell).round_().long()
    region_size, core_size = (t.contiguous() for t in sizes.unbind(-1))
    flat = b_m * num_rows + s_m
    region_size.view(-1).index_add_(0, flat, region_m.sum(1))
    core_size.view(-1).index_add_(0, flat, core_m.sum(1))
    candidate = (core_size > 0) & (core_size / region_size.clamp(min=1)
                                   >= tau)

    # Sequential loop over shapes, vectorised over images; only the tiles
    # of candidate shapes take part.
    keep = candidate[b_m, s_m].nonzero().squeeze(1)
    s_m, b_m, g_m = s_m[keep], b_m[keep], g_m[keep]
    region_m, core_m = region_m[keep], core_m[keep]
    in_entries = (inside & candidate[..., None]).transpose(0, 1).nonzero()
    b_in = in_entries[:, 1]
    g_in = b_in * tiles.num_cells + in_entries[:, 2]
    allowed_in = allowed_g[g_in]
    (in_bounds, mix_bounds), invalid = _step_bounds(
        [in_entries[:, 0], s_m], num_rows, invalid)
    if invalid:
        raise ValueError('propagate_regions_tiled: confident pixels must '
                         f'hold labels in [0, {num_classes})')
    accepted = torch.zeros_like(candidate)
    for step in range(num_rows):
        i0, i1 = in_bounds[step], in_bounds[step + 1]
        m0, m1 = mix_bounds[step], mix_bounds[step + 1]
        if i0 == i1 and m0 == m1:
            continue
        gi, bi, gm, bm = g_in[i0:i1], b_in[i0:i1], g_m[m0:m1], b_m[m0:m1]
        hist = torch.zeros(num, num_classes, device=labels.device)
        hist.index_add_(0, bi, state.cell_hist[gi])
        hist.index_add_(0, bm, state.histograms(state.labels[gm],
                                                core_m[m0:m1]))
        top, label = hist.max(1)  # first max -> smallest class
        acc = candidate[:, step] & (top / core_size[:, step].clamp(min=1)
                                    > tau)
        accepted[:, step] = acc
        state.paint(gi, allowed_in[i0:i1], acc[bi], label[bi], whole=True)
        state.paint(gm, region_m[m0:m1], acc[bm], label[bm], whole=False)

    new_labels = tiles.from_tiles(state.labels.view_as(allowed_t), labels)
    new_mask = conf_mask | tiles.from_tiles(
        state.painted.view_as(allowed_t), conf_mask)
    if return_accepted:
        return new_labels, new_mask, accepted
    return new_labels, new_mask

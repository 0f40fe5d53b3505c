"""ToyShapes: a small synthetic segmentation dataset told apart by shape.

Every image holds 1-3 objects of 6 shape classes on a textured background
with up to 3 pieces of unlabeled clutter. Colour and texture are drawn from
one distribution for all classes, so only the shape tells the classes apart.
Later objects occlude earlier ones and the label map shows what is visible.
Each image is rendered from its own RNG, derived from (seed, split, index),
so the output does not depend on the number of worker processes.

Layout written by :func:`generate_toy_shapes` (VOC style)::

    <out>/JPEGImages/<id>.png               RGB images (lossless PNG)
    <out>/SegmentationClass/<id>.png        uint8 class indices (grayscale)
    <out>/ImageSets/Segmentation/{train,val}.txt
    <out>/splits/<1_16|1_8|...>/{labeled,unlabeled}.txt, manifest.json
    <out>/toy_shapes.json                   summary (counts, class pixels)
"""
import json
import multiprocessing
import os
import os.path as osp
import time
from colorsys import hsv_to_rgb
from functools import partial
from typing import (Callable, Dict, List, NamedTuple, Optional, Sequence,
                    Tuple)

import cv2
import numpy as np

from .splits import (fraction_name, make_split, num_from_fraction,
                     write_split_dir, write_split_file)

TOY_SHAPES_CLASSES = ('background', 'circle', 'square', 'triangle', 'star',
                      'ring', 'cross')
TOY_SHAPES_PALETTE = [[0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25],
                      [0, 130, 200], [245, 130, 48], [145, 30, 180]]
TOY_IMG_SUFFIX = '.png'
TOY_SEG_MAP_SUFFIX = '.png'

_SPLIT_CODES = {'train': 0, 'val': 1}
_RADIUS_RANGE = (0.17, 0.3)  # object radius as a fraction of image size
_MIN_VISIBLE = 0.4  # an occluded object keeps at least this part of itself
_MIN_OBJECTS, _MAX_OBJECTS = 1, 3  # objects per image
_TEXTURES = ('flat', 'stripes', 'gradient', 'checker', 'blotch')

Grid = Tuple[np.ndarray, np.ndarray]


def _unit_polygon(num: int,
                  radii: Sequence[float],
                  phase: float = np.pi / 2) -> np.ndarray:
    """``num`` vertices on circles cycling through ``radii``; (num, 2)."""
    angles = phase + 2 * np.pi * np.arange(num) / num
    r = np.resize(np.asarray(radii, dtype=np.float64), num)
    return np.stack([r * np.cos(angles), -r * np.sin(angles)], axis=1)


def _cross_polygon(half_width: float) -> np.ndarray:
    """A plus sign reaching radius 1 along the axes; (12, 2)."""
    w = half_width
    return np.array([(w, 1), (w, w), (1, w), (1, -w), (w, -w), (w, -1),
                     (-w, -1), (-w, -w), (-1, -w), (-1, w), (-w, w), (-w, 1)],
                    dtype=np.float64)


def _polygon_area(poly: np.ndarray) -> float:
    """Shoelace area of a simple polygon (N, 2)."""
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(
        float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


_CIRCLE = _unit_polygon(48, [1.0])
_RING_HOLE = (0.45, 0.65)  # inner radius of a ring relative to the outer one

#: ``(polygon, value)`` pairs filled in order (value 0 cuts a hole).
Strokes = List[Tuple[np.ndarray, int]]


class ShapeSet(NamedTuple):
    """A catalogue of shape classes for :func:`render_toy_image`.

    ``classes[0]`` is the background; ``strokes[name](rng)`` gives the
    unit-radius strokes of one instance (it may draw from ``rng``, after
    the pose); ``radius_factor[name]`` scales the radius so that every class
    has the same mean area and object size carries no class information.
    """
    classes: Tuple[str, ...]
    strokes: Dict[str, Callable[[np.random.Generator], Strokes]]
    radius_factor: Dict[str, float]


def _fixed(poly: np.ndarray) -> Callable[[np.random.Generator], Strokes]:
    return lambda rng: [(poly, 1)]


def _shape_set(classes: Sequence[str],
               strokes: Dict[str, Callable[[np.random.Generator], Strokes]],
               unit_areas: Dict[str, float]) -> ShapeSet:
    reference = _polygon_area(_unit_polygon(4, [1.0], phase=np.pi / 4))
    factor = {name: float(np.sqrt(reference / area))
              for name, area in unit_areas.items()}
    return ShapeSet(tuple(classes), strokes, factor)


def _toy_shapes() -> ShapeSet:
    """The six ToyShapes classes."""
    polygons = {
        'circle': _CIRCLE,
        'square': _unit_polygon(4, [1.0], phase=np.pi / 4),
        'triangle': _unit_polygon(3, [1.0]),
        'star': _unit_polygon(10, [1.0, 0.42]),
        'cross': _cross_polygon(0.3),
    }
    strokes = {name: _fixed(poly) for name, poly in polygons.items()}
    strokes['ring'] = lambda rng: [(_CIRCLE, 1),
                                   (_CIRCLE * rng.uniform(*_RING_HOLE), 0)]
    areas = {name: _polygon_area(poly) for name, poly in polygons.items()}
    areas['ring'] = areas['circle'] * (1 - np.mean(_RING_HOLE)**2)
    return _shape_set(TOY_SHAPES_CLASSES, strokes, areas)


TOY_SHAPE_SET = _toy_shapes()


def _grid(size: int) -> Grid:
    """Pixel-centre coordinates (y, x), each (H, W) float32."""
    coords = np.arange(size, dtype=np.float32)
    return np.meshgrid(coords, coords, indexing='ij')


def _random_color(rng: np.random.Generator) -> np.ndarray:
    """An RGB colour in [0, 255], (3,) float32; hue/sat/value uniform."""
    rgb = hsv_to_rgb(rng.random(), rng.uniform(0.2, 1.0),
                     rng.uniform(0.25, 1.0))
    return np.array(rgb, dtype=np.float32) * 255


def _second_color(rng: np.random.Generator, color: np.ndarray) -> np.ndarray:
    """A colour near ``color`` (the other end of a two-tone texture)."""
    shift = rng.uniform(-90, 90) * rng.choice([0.3, 1.0])
    jitter = rng.normal(0, 20, 3)
    return np.clip(color + shift + jitter, 0, 255).astype(np.float32)


def _texture(rng: np.random.Generator, grid: Grid, c1: np.ndarray,
             c2: np.ndarray, center: Tuple[float, float],
             radius: float) -> np.ndarray:
    """A random two-tone texture over the whole image; (H, W, 3) float32."""
    yy, xx = grid
    kind = _TEXTURES[rng.integers(len(_TEXTURES))]
    theta = rng.uniform(0, np.pi)
    proj = xx * np.cos(theta) + yy * np.sin(theta)
    if kind == 'flat':
        t = np.zeros_like(xx)
    elif kind == 'stripes':
        period = rng.uniform(3, 10)
        t = 0.5 + 0.5 * np.sin(2 * np.pi * proj / period +
                               rng.uniform(0, 2 * np.pi))
    elif kind == 'gradient':
        offset = center[1] * np.cos(theta) + center[0] * np.sin(theta)
        t = np.clip(0.5 + 0.5 * (proj - offset) / radius, 0, 1)
    elif kind == 'checker':
        cell = rng.uniform(3, 8)
        t = ((np.floor(xx / cell) + np.floor(yy / cell)) % 2)
    else:  # blotch: smooth random field
        low = rng.random((rng.integers(3, 7), rng.integers(3, 7)))
        t = np.clip(
            cv2.resize(
                low.astype(np.float32),
                xx.shape[::-1],
                interpolation=cv2.INTER_CUBIC), 0, 1)
    t = t.astype(np.float32)[..., None]
    tex = c1 * (1 - t) + c2 * t
    tex += rng.normal(0, rng.uniform(0, 12), tex.shape).astype(np.float32)
    return tex


def _shape_mask(
        rng: np.random.Generator,
        cls: int,
        size: int,
        shapes: ShapeSet = TOY_SHAPE_SET
) -> Tuple[np.ndarray, Tuple[float, float], float]:
    """Rasterise class ``cls`` of ``shapes`` at a random pose.

    Returns:
        tuple: mask (H, W) bool, centre (y, x), radius in pixels.
    """
    name = shapes.classes[cls]
    radius = rng.uniform(*_RADIUS_RANGE) * size * shapes.radius_factor[name]
    center = rng.uniform(0.5 * radius, size - 0.5 * radius, 2)  # (y, x)
    aspect = np.exp(rng.uniform(-0.25, 0.25))
    angle = rng.uniform(0, 2 * np.pi)
    rot = np.array([[np.cos(angle), -np.sin(angle)],
                    [np.sin(angle), np.cos(angle)]])
    scale = radius * np.array([aspect, 1 / aspect])

    def draw(poly: np.ndarray, value: int) -> None:
        # 4 fractional bits keep sub-pixel vertex positions.
        pts = (poly * scale) @ rot.T + center[::-1]
        cv2.fillPoly(
            mask, [np.round(pts * 16).astype(np.int32)],
            value,
            lineType=cv2.LINE_8,
            shift=4)

    mask = np.zeros((size, size), dtype=np.uint8)
    for poly, value in shapes.strokes[name](rng):
        draw(poly, value)
    return mask.astype(bool), (float(center[0]), float(center[1])), radius


def _background(rng: np.random.Generator, grid: Grid) -> np.ndarray:
    """Textured background with 0-3 pieces of non-object clutter;
    (H, W, 3) float32."""
    size = grid[0].shape[0]
    c1 = _random_color(rng)
    img = _texture(rng, grid, c1, _second_color(rng, c1), (size / 2, size / 2),
                   size / 2)
    for _ in range(rng.integers(0, 4)):
        color = tuple(float(c) for c in _random_color(rng))
        kind = rng.integers(3)
        p1 = tuple(int(v) for v in rng.integers(0, size, 2))
        if kind == 0:  # line
            p2 = tuple(int(v) for v in rng.integers(0, size, 2))
            cv2.line(img, p1, p2, color, int(rng.integers(1, 3)))
        elif kind == 1:  # small blob
            radius = max(1, int(size * rng.uniform(0.01, 0.035)))
            cv2.circle(img, p1, radius, color, -1)
        else:  # arc
            axes = tuple(int(v) for v in rng.integers(3, size // 6 + 4, 2))
            start = float(rng.uniform(0, 360))
            cv2.ellipse(img, p1, axes, float(rng.uniform(0, 180)), start,
                        start + float(rng.uniform(60, 200)), color, 1)
    return img


def _place_object(rng: np.random.Generator,
                  size: int,
                  visible: List[Tuple[np.ndarray, int]],
                  shapes: ShapeSet,
                  tries: int = 10) -> Optional[tuple]:
    """Sample a shape that leaves every earlier object mostly visible."""
    min_pixels = max(4, int(0.002 * size * size))
    for _ in range(tries):
        cls = int(rng.integers(1, len(shapes.classes)))
        mask, center, radius = _shape_mask(rng, cls, size, shapes)
        if mask.sum() < min_pixels:
            continue
        if all((vis & ~mask).sum() >= _MIN_VISIBLE * full
               for vis, full in visible):
            return cls, mask, center, radius
    return None


def render_toy_image(
        rng: np.random.Generator,
        size: int = 96,
        shapes: ShapeSet = TOY_SHAPE_SET) -> Tuple[np.ndarray, np.ndarray]:
    """Render one image and its label map.

    Args:
        rng: the image's random generator (all randomness comes from it).
        size: height and width in pixels.
        shapes: the shape classes (default: ToyShapes').

    Returns:
        tuple: image (H, W, 3) uint8 RGB, label (H, W) uint8 in
        [0, len(shapes.classes)).
    """
    grid = _grid(size)
    img = _background(rng, grid)
    label = np.zeros((size, size), dtype=np.uint8)
    bg_mean = img.reshape(-1, 3).mean(axis=0)
    visible: List[Tuple[np.ndarray, int]] = []
    for _ in range(rng.integers(_MIN_OBJECTS, _MAX_OBJECTS + 1)):
        placed = _place_object(rng, size, visible, shapes)
        if placed is None:
            continue
        cls, mask, center, radius = placed
        # Same rule for every class: stand out from the background a bit.
        c1 = _random_color(rng)
        for _ in range(10):
            if np.linalg.norm(c1 - bg_mean) >= 100:
                break
            c1 = _random_color(rng)
        tex = _texture(rng, grid, c1, _second_color(rng, c1), center, radius)
        img[mask] = tex[mask]
        label[mask] = cls
        visible = [(vis & ~mask, full) for vis, full in visible]
        visible.append((mask, int(mask.sum())))
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (3, 3), rng.uniform(0.4, 0.8))
    img += rng.normal(0, rng.uniform(1, 6), img.shape).astype(np.float32)
    return np.clip(np.round(img), 0, 255).astype(np.uint8), label


def image_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The RNG of image ``index`` of ``split`` ('train' or 'val')."""
    return np.random.default_rng([seed, _SPLIT_CODES[split], index])


def image_name(split: str, index: int) -> str:
    """Sample name (mmseg ann-file entry) of image ``index`` of ``split``."""
    return f'{split}_{index:06d}'


def _render_and_save(index: int, out_dir: str, split: str, seed: int,
                     size: int) -> np.ndarray:
    """Render and write one sample; return its class pixel counts (K,)."""
    img, label = render_toy_image(image_rng(seed, split, index), size)
    name = image_name(split, index)
    cv2.imwrite(
        osp.join(out_dir, 'JPEGImages', name + TOY_IMG_SUFFIX),
        cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    cv2.imwrite(
        osp.join(out_dir, 'SegmentationClass', name + TOY_SEG_MAP_SUFFIX),
        label)
    return np.bincount(label.ravel(), minlength=len(TOY_SHAPES_CLASSES))


def _render_split(out_dir: str, split: str, num: int, seed: int, size: int,
                  nproc: int) -> np.ndarray:
    """Render ``num`` samples; return per-image class pixel counts (N, K)."""
    work = partial(
        _render_and_save, out_dir=out_dir, split=split, seed=seed, size=size)
    if nproc <= 1 or num < 2 * nproc:
        counts = [work(i) for i in range(num)]
    else:
        with multiprocessing.get_context('fork').Pool(nproc) as pool:
            counts = pool.map(work, range(num), chunksize=32)
    return np.stack(counts) if counts else np.zeros(
        (0, len(TOY_SHAPES_CLASSES)), dtype=np.int64)


def generate_toy_shapes(out_dir: str,
                        num_train: int = 2000,
                        num_val: int = 300,
                        size: int = 96,
                        seed: int = 0,
                        splits: Sequence[str] = ('1_64', '1_32', '1_16',
                                                 '1_8', '1_4', '1_2'),
                        nproc: int = 2) -> Dict[str, object]:
    """Generate the ToyShapes dataset in VOC layout below ``out_dir``.

    Args:
        out_dir: root directory (created if needed).
        num_train: number of train images (labeled + unlabeled pool).
        num_val: number of val images.
        size: image height and width in pixels.
        seed: seed of the whole dataset (images and splits).
        splits: fractional split names ``'<p>_<q>'``; each labeled set holds
            ``ceil(num_train * p / q)`` train images drawn with ``make_split``.
        nproc: worker processes (output does not depend on it).

    Returns:
        dict: summary with counts, split sizes, per-class pixel fractions and
        image counts, and ``seconds`` (rendering wall time).
    """
    if num_train < 1 or num_val < 0 or size < 16:
        raise ValueError('need num_train >= 1, num_val >= 0 and size >= 16, '
                         f'got {num_train}, {num_val}, {size}')
    fractions = [_parse_split_name(name) for name in splits]
    for sub in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        os.makedirs(osp.join(out_dir, sub), exist_ok=True)

    start = time.perf_counter()
    counts = {
        split: _render_split(out_dir, split, num, seed, size, nproc)
        for split, num in (('train', num_train), ('val', num_val))
    }
    seconds = time.perf_counter() - start

    names = {}
    for split, num in (('train', num_train), ('val', num_val)):
        names[split] = [image_name(split, i) for i in range(num)]
        write_split_file(
            osp.join(out_dir, 'ImageSets', 'Segmentation', f'{split}.txt'),
            names[split])
    split_sizes = {}
    for name, fraction in zip(splits, fractions):
        labeled, unlabeled = make_split(names['train'],
                                        num_from_fraction(num_train, fraction),
                                        seed)
        write_split_dir(
            osp.join(out_dir, 'splits', name),
            labeled,
            unlabeled,
            seed,
            fraction=fraction,
            source='ImageSets/Segmentation/train.txt')
        split_sizes[name] = dict(
            num_labeled=len(labeled), num_unlabeled=len(unlabeled))

    summary = dict(
        classes=list(TOY_SHAPES_CLASSES),
        seed=seed,
        size=size,
        num_train=num_train,
        num_val=num_val,
        splits=split_sizes,
        **{
            f'{split}_{key}': value
            for split, c in counts.items()
            for key, value in _class_stats(c).items()
        })
    with open(osp.join(out_dir, 'toy_shapes.json'), 'w') as f:
        json.dump(summary, f, indent=2)
        f.write('\n')
    summary['seconds'] = seconds
    return summary


def _parse_split_name(name: str) -> str:
    """'1_16' -> '1/16' (checked to round-trip through fraction_name)."""
    parts = name.split('_')
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"split name {name!r} is not of the form '<p>_<q>'")
    fraction = f'{parts[0]}/{parts[1]}'
    if fraction_name(fraction) != name:
        raise ValueError(f'split name {name!r} is not a reduced fraction '
                         f'(use {fraction_name(fraction)!r})')
    return fraction


def _class_stats(counts: np.ndarray) -> Dict[str, Dict[str, float]]:
    """Per-class pixel fractions and image counts from (N, K) pixel counts."""
    total = max(int(counts.sum()), 1)
    return dict(
        class_pixel_fraction={
            cls: round(float(counts[:, k].sum()) / total, 4)
            for k, cls in enumerate(TOY_SHAPES_CLASSES)
        },
        class_images={
            cls: int((counts[:, k] > 0).sum())
            for k, cls in enumerate(TOY_SHAPES_CLASSES)
        })


def colorize_label(label: np.ndarray) -> np.ndarray:
    """Label map (H, W) -> RGB (H, W, 3) uint8 with TOY_SHAPES_PALETTE."""
    palette = np.array(TOY_SHAPES_PALETTE, dtype=np.uint8)
    return palette[np.clip(label, 0, len(palette) - 1)]

"""Pretraining task of the stand-in backbone: 12 shapes that are not
ToyShapes classes.

Published semi-supervised recipes start from ImageNet weights, which the
toy demo cannot download. Its stand-in is the toy backbone trained on
image-level multi-label classification of these 12 shapes, rendered with
ToyShapes' backgrounds, colours, textures, clutter and occlusion
(:func:`~.toy_shapes.render_toy_image`), so the backbone learns to
represent shape without ever seeing a ToyShapes class, image or label.
"""
from typing import Dict, Tuple

import numpy as np

from .toy_shapes import (TOY_SHAPES_CLASSES, ShapeSet, _CIRCLE, _fixed,
                         _polygon_area, _shape_set, _unit_polygon,
                         render_toy_image)

STANDIN_CLASSES = ('hexagon', 'pentagon', 'ellipse', 'heart', 'arrow',
                   'crescent', 'diamond', 'L', 'T', 'trapezoid', 'semicircle',
                   'chevron')
#: RNG stream code of the pretraining images (ToyShapes uses 0 and 1).
STANDIN_SPLIT_CODES = {'train': 100, 'heldout': 101}
#: A class counts as present when this many of its pixels are visible.
MIN_VISIBLE_PIXELS = 12


def _poly(points) -> np.ndarray:
    """A polygon from (x, y) points with y up, centred on its bounding box
    and scaled to radius 1 (image rows grow downwards)."""
    pts = np.asarray(points, dtype=np.float64)
    pts = pts - (pts.max(0) + pts.min(0)) / 2
    pts = pts / np.abs(pts).max()
    return pts * np.array([1.0, -1.0])


def _heart() -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    x = 16 * np.sin(t)**3
    y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    return _poly(np.stack([x, y], 1))


def _semicircle() -> np.ndarray:
    t = np.linspace(0, np.pi, 33)
    return _poly(np.stack([np.cos(t), np.sin(t)], 1))


_CRESCENT_CUT = (0.45, 0.0, 0.85)  # offset x, offset y, radius of the cut

_POLYGONS: Dict[str, np.ndarray] = {
    'hexagon': _unit_polygon(6, [1.0]),
    'pentagon': _unit_polygon(5, [1.0]),
    'ellipse': _CIRCLE * np.array([1.0, 0.55]),
    'heart': _heart(),
    'arrow': _poly([(-1, -0.25), (0.2, -0.25), (0.2, -0.6), (1, 0), (0.2, 0.6),
                    (0.2, 0.25), (-1, 0.25)]),
    'diamond': _unit_polygon(4, [1.0, 0.55]),
    'L': _poly([(0, 0), (0.45, 0), (0.45, 1.1), (1, 1.1), (1, 1.5),
                (0, 1.5)][::-1]),
    'T': _poly([(-1, 1), (1, 1), (1, 0.6), (0.22, 0.6), (0.22, -1),
                (-0.22, -1), (-0.22, 0.6), (-1, 0.6)]),
    'trapezoid': _poly([(-1, -0.6), (1, -0.6), (0.45, 0.6), (-0.45, 0.6)]),
    'semicircle': _semicircle(),
    'chevron': _poly([(-1, 0.7), (0, -0.3), (1, 0.7), (1, 0.1), (0, -0.9),
                      (-1, 0.1)]),
}


def _crescent_strokes(rng: np.random.Generator):
    dx, dy, radius = _CRESCENT_CUT
    return [(_CIRCLE, 1), (_CIRCLE * radius + np.array([dx, dy]), 0)]


def _crescent_area() -> float:
    """Area of the crescent: the disc minus its overlap with the cut."""
    grid = np.linspace(-1, 1, 801)
    xx, yy = np.meshgrid(grid, grid)
    dx, dy, radius = _CRESCENT_CUT
    inside = (xx**2 + yy**2 <= 1) & \
        ((xx - dx)**2 + (yy - dy)**2 > radius**2)
    return float(inside.mean() * 4)


def _standin_shapes() -> ShapeSet:
    strokes = {name: _fixed(poly) for name, poly in _POLYGONS.items()}
    strokes['crescent'] = _crescent_strokes
    areas = {name: _polygon_area(poly) for name, poly in _POLYGONS.items()}
    areas['crescent'] = _crescent_area()
    return _shape_set(('background', *STANDIN_CLASSES), strokes, areas)


STANDIN_SHAPE_SET = _standin_shapes()


def check_disjoint_from_toy_shapes() -> None:
    """Raise if a pretraining class is a ToyShapes class, so the stand-in
    weights never saw a ToyShapes label."""
    shared = set(STANDIN_CLASSES) & set(TOY_SHAPES_CLASSES)
    if shared:
        raise ValueError(f'pretraining classes {sorted(shared)} are '
                         'ToyShapes classes')


def standin_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The RNG of pretraining image ``index`` of ``split``; its stream codes
    differ from every ToyShapes split, so no ToyShapes image is drawn."""
    return np.random.default_rng([seed, STANDIN_SPLIT_CODES[split], index])


def render_standin_sample(seed: int, split: str, index: int,
                          size: int = 64) -> Tuple[np.ndarray, np.ndarray]:
    """One pretraining sample.

    Returns:
        tuple: image (H, W, 3) uint8 RGB and its multi-label target (12,)
        float32: 1 for each class with at least
        :data:`MIN_VISIBLE_PIXELS` visible pixels.
    """
    img, label = render_toy_image(standin_rng(seed, split, index), size,
                                  STANDIN_SHAPE_SET)
    counts = np.bincount(label.ravel(), minlength=len(STANDIN_CLASSES) + 1)
    return img, (counts[1:] >= MIN_VISIBLE_PIXELS).astype(np.float32)


def patch_class_fractions(label: np.ndarray, patch: int,
                          num_classes: int) -> np.ndarray:
    """Fraction of each class in every ``patch`` x ``patch`` cell.

    Args:
        label: (H, W) integer label map in [0, num_classes), H and W
            multiples of ``patch``.

    Returns:
        (num_classes, H / patch, W / patch) float32; every cell sums to 1.
    """
    height, width = label.shape
    if height % patch or width % patch:
        raise ValueError(f'label of {height}x{width} px is not a multiple '
                         f'of the patch size {patch}')
    one_hot = np.eye(num_classes, dtype=np.float32)[label]  # (H, W, K)
    cells = one_hot.reshape(height // patch, patch, width // patch, patch,
                            num_classes).mean(axis=(1, 3))
    return np.ascontiguousarray(cells.transpose(2, 0, 1))


def render_standin_patch_sample(seed: int, split: str, index: int,
                                size: int = 64,
                                patch: int = 8
                                ) -> Tuple[np.ndarray, np.ndarray]:
    """One pretraining sample with a dense target: the same image as
    :func:`render_standin_sample` and, per ``patch`` x ``patch`` cell, the
    fraction of background and of each of the 12 classes.

    Returns:
        tuple: image (H, W, 3) uint8 RGB and its target
        (13, H / patch, W / patch) float32 (background first).
    """
    img, label = render_toy_image(standin_rng(seed, split, index), size,
                                  STANDIN_SHAPE_SET)
    return img, patch_class_fractions(label, patch, len(STANDIN_CLASSES) + 1)

# Copyright (c) mmsemi contributors. All rights reserved.
"""Geometric transforms of the UniMatch family."""
from typing import Tuple

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform

from mmseg.datasets.transforms import Resize
from mmseg.registry import TRANSFORMS


def relative_resize_shape(height: int, width: int,
                          long_side: int) -> Tuple[int, int]:
    """Output (height, width) whose long side is ``long_side``.

    Aspect ratio is kept with rounding to the nearest pixel (UniMatch's
    ``int(x + 0.5)``), and both sides are at least 1.
    """
    if height > width:
        return long_side, max(1, int(width * long_side / height + 0.5))
    return max(1, int(height * long_side / width + 0.5)), long_side


@TRANSFORMS.register_module()
class RandomRelativeResize(BaseTransform):
    """Rescale by a random factor relative to the image's own size.

    The new long side is a random integer in
    ``[floor(lo * L), floor(hi * L)]`` where ``L`` is the image's own long
    side (UniMatch/CorrMatch/U2PL ``resize``); the aspect ratio is kept.
    mmcv's ``RandomResize`` scales relative to a fixed base scale instead,
    which differs when image sizes vary (VOC).

    The image uses ``interpolation``; every key in ``results['seg_fields']``
    uses nearest, so label values stay in the original label set. The work
    is done by mmseg's ``Resize``, which records ``img_shape``, ``scale``
    (w, h) and ``scale_factor`` (w_scale, h_scale); ``keep_ratio`` is True.
    The random draw uses numpy's global RNG (seeded by mmengine).

    Note:
        The official code resizes with PIL; cv2's bilinear does not
        anti-alias when shrinking, so pixel values differ slightly.

    Args:
        ratio_range (tuple[float, float]): (lo, hi). Defaults to (0.5, 2.0).
        interpolation (str): image interpolation. Defaults to 'bilinear'.
        backend (str): 'cv2' or 'pillow'. Defaults to 'cv2'.
    """

    def __init__(self,
                 ratio_range: Tuple[float, float] = (0.5, 2.0),
                 interpolation: str = 'bilinear',
                 backend: str = 'cv2') -> None:
        lo, hi = ratio_range
        if not 0 < lo <= hi:
            raise ValueError('ratio_range must be (lo, hi) with 0 < lo <= hi, '
                             f'got {ratio_range!r}')
        self.ratio_range = (float(lo), float(hi))
        self.interpolation = interpolation
        self.backend = backend

    def _random_long_side(self, long_side: int) -> int:
        """Random integer in ``[floor(lo * L), floor(hi * L)]``, at least 1."""
        low = max(1, int(long_side * self.ratio_range[0]))
        high = max(low, int(long_side * self.ratio_range[1]))
        return int(np.random.randint(low, high + 1))

    def transform(self, results: dict) -> dict:
        """Resize ``img`` and all ``seg_fields``."""
        height, width = results['img'].shape[:2]
        new_long = self._random_long_side(max(height, width))
        new_h, new_w = relative_resize_shape(height, width, new_long)
        resize = Resize(
            scale=(new_w, new_h),
            keep_ratio=False,
            interpolation=self.interpolation,
            backend=self.backend)
        results = resize(results)
        # The exact target size already keeps the aspect ratio.
        results['keep_ratio'] = True
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(ratio_range={self.ratio_range}, '
                f"interpolation='{self.interpolation}', "
                f"backend='{self.backend}')")


def nearest_multiple(size: int, divisor: int) -> int:
    """``size`` rounded to the nearest multiple of ``divisor`` (halves
    up, at least ``divisor``): UniMatch V2's ``int(h / 14 + 0.5) * 14``."""
    return max(divisor, int(size / divisor + 0.5) * divisor)


@TRANSFORMS.register_module()
class ResizeToNearestMultiple(BaseTransform):
    """Resize the image (not the label) so that both sides are the nearest
    multiple of ``divisor``, as UniMatch V2 evaluates at "original size"
    with a patch-14 ViT. mmseg resizes the predictions back to the original
    shape, where the metric compares them with the untouched label.

    mmseg's ``ResizeToMultiple`` rounds up instead and resizes the label
    too.

    Required keys: ``img``. Modified keys: ``img``, ``img_shape``,
    ``scale_factor``.

    Args:
        divisor (int): The multiple, the ViT's patch size. Defaults to 14.
        interpolation (str): cv2 interpolation of ``mmcv.imresize``.
            Defaults to 'bilinear'.
    """

    def __init__(self, divisor: int = 14,
                 interpolation: str = 'bilinear') -> None:
        if divisor < 1:
            raise ValueError(f'divisor must be >= 1; got {divisor}')
        self.divisor = divisor
        self.interpolation = interpolation

    def transform(self, results: dict) -> dict:
        height, width = results['img'].shape[:2]
        new_h = nearest_multiple(height, self.divisor)
        new_w = nearest_multiple(width, self.divisor)
        results['img'] = mmcv.imresize(results['img'], (new_w, new_h),
                                       interpolation=self.interpolation)
        results['img_shape'] = (new_h, new_w)
        results['scale_factor'] = (new_w / width, new_h / height)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(divisor={self.divisor}, '
                f'interpolation={self.interpolation!r})')

# Copyright (c) mmsemi contributors. All rights reserved.
"""Geometric transforms of the UniMatch family."""
from typing import Tuple

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

# Copyright (c) mmsemi contributors. All rights reserved.
"""Strong photometric augmentation of the UniMatch family.

The official code applies, to a PIL RGB image::

    if random.random() < 0.8: ColorJitter(0.5, 0.5, 0.5, 0.25)
    RandomGrayscale(p=0.2)
    if random.random() < 0.5: GaussianBlur(radius=U(0.1, 2.0))

These transforms reproduce torchvision's semantics in numpy/cv2 (no
torchvision dependency). Images in an mmseg pipeline are BGR (mmcv loads
BGR; the data preprocessor converts to RGB), so every transform takes a
``channel_order`` and converts to RGB internally where the colour space
matters (luma weights, hue). All randomness comes from numpy's global RNG,
which mmengine seeds per worker, so runs are reproducible.

Only ``results['img']`` is modified; label maps are never touched.
"""
from typing import Sequence, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmseg.registry import TRANSFORMS

#: ITU-R 601-2 luma weights for (R, G, B), as PIL ``convert('L')``.
LUMA_WEIGHTS = (299 / 1000, 587 / 1000, 114 / 1000)

#: torchvision ``ColorJitter`` op order indices.
BRIGHTNESS, CONTRAST, SATURATION, HUE = range(4)


def _check_channel_order(channel_order: str) -> str:
    if channel_order not in ('bgr', 'rgb'):
        raise ValueError(
            f"channel_order must be 'bgr' or 'rgb', got {channel_order!r}")
    return channel_order


def _to_rgb_float(img: np.ndarray, channel_order: str) -> np.ndarray:
    """(H, W, 3) image in ``channel_order`` -> float32 RGB in [0, 255]."""
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f'expected an (H, W, 3) image, got shape {img.shape}')
    img = img.astype(np.float32)
    return img[..., ::-1] if channel_order == 'bgr' else img


def _from_rgb_float(rgb: np.ndarray, channel_order: str,
                    dtype: np.dtype) -> np.ndarray:
    """Float RGB -> ``channel_order`` in ``dtype`` (uint8 is rounded)."""
    out = rgb[..., ::-1] if channel_order == 'bgr' else rgb
    if dtype == np.uint8:
        # Round half up, as PIL's fixed-point conversions.
        out = np.floor(np.clip(out, 0, 255) + 0.5)
    return np.ascontiguousarray(out.astype(dtype))


def rgb_to_luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma of an (H, W, 3) float RGB image -> (H, W)."""
    r, g, b = LUMA_WEIGHTS
    return rgb[..., 0] * r + rgb[..., 1] * g + rgb[..., 2] * b


def _blend(img: np.ndarray, other, factor: float) -> np.ndarray:
    """torchvision ``_blend``: ``factor * img + (1 - factor) * other``,
    clipped to [0, 255]."""
    return np.clip(factor * img + (1.0 - factor) * other, 0, 255)


def adjust_brightness(rgb: np.ndarray, factor: float) -> np.ndarray:
    """Scale every pixel by ``factor`` (blend with black)."""
    return _blend(rgb, 0.0, factor)


def adjust_contrast(rgb: np.ndarray, factor: float) -> np.ndarray:
    """Blend with the mean luma of the image (a flat grey image)."""
    return _blend(rgb, rgb_to_luma(rgb).mean(), factor)


def adjust_saturation(rgb: np.ndarray, factor: float) -> np.ndarray:
    """Blend with the per-pixel luma (the grayscale image)."""
    return _blend(rgb, rgb_to_luma(rgb)[..., None], factor)


def adjust_hue(rgb: np.ndarray, factor: float) -> np.ndarray:
    """Rotate the hue by ``factor`` of a full turn, ``factor`` in
    [-0.5, 0.5]."""
    if not -0.5 <= factor <= 0.5:
        raise ValueError(f'hue factor must be in [-0.5, 0.5], got {factor}')
    # Float HSV in cv2: H in [0, 360), S and V in [0, 1] for RGB in [0, 1].
    hsv = cv2.cvtColor(
        np.ascontiguousarray(rgb / 255.0, dtype=np.float32), cv2.COLOR_RGB2HSV)
    hsv[..., 0] = np.mod(hsv[..., 0] + factor * 360.0, 360.0)
    return np.clip(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0, 0, 255)


_ADJUST = {
    BRIGHTNESS: adjust_brightness,
    CONTRAST: adjust_contrast,
    SATURATION: adjust_saturation,
    HUE: adjust_hue,
}


def color_jitter(img: np.ndarray,
                 order: Sequence[int],
                 brightness: float = 1.0,
                 contrast: float = 1.0,
                 saturation: float = 1.0,
                 hue: float = 0.0,
                 channel_order: str = 'bgr') -> np.ndarray:
    """Deterministic colour jitter with given factors (torchvision order).

    Args:
        img (np.ndarray): (H, W, 3) image in ``channel_order``, uint8 or
            float in [0, 255].
        order (Sequence[int]): permutation of ``(BRIGHTNESS, CONTRAST,
            SATURATION, HUE)`` = ``(0, 1, 2, 3)``: the order of the ops.
        brightness, contrast, saturation (float): blend factors (1 = no-op).
        hue (float): hue shift in turns (0 = no-op).
        channel_order (str): 'bgr' (mmcv default) or 'rgb'.

    Returns:
        np.ndarray: (H, W, 3) image of the input dtype and channel order.
        Computation is in float32; each op clips to [0, 255] like
        torchvision, and uint8 output is rounded once at the end.
    """
    channel_order = _check_channel_order(channel_order)
    if sorted(order) != [0, 1, 2, 3]:
        raise ValueError(f'order must be a permutation of 0..3, got {order}')
    factors = {
        BRIGHTNESS: brightness,
        CONTRAST: contrast,
        SATURATION: saturation,
        HUE: hue
    }
    rgb = _to_rgb_float(img, channel_order)
    for op in order:
        rgb = _ADJUST[op](rgb, factors[op])
    return _from_rgb_float(rgb, channel_order, img.dtype)


def to_grayscale(img: np.ndarray, channel_order: str = 'bgr') -> np.ndarray:
    """Replace every channel by the ITU-R 601-2 luma; keeps 3 channels.

    Args:
        img (np.ndarray): (H, W, 3) image in ``channel_order``.

    Returns:
        np.ndarray: (H, W, 3) image of the input dtype with equal channels
        (uint8 rounded, as PIL).
    """
    channel_order = _check_channel_order(channel_order)
    luma = rgb_to_luma(_to_rgb_float(img, channel_order))
    gray = np.repeat(luma[..., None], 3, axis=2)
    return _from_rgb_float(gray, 'rgb', img.dtype)


def gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` (PIL's ``radius``).

    The kernel has ``2 * ceil(3 * sigma) + 1`` taps per axis and borders
    replicate the edge pixel, as PIL's ``GaussianBlur`` (which approximates
    the same Gaussian with box blurs).

    Args:
        img (np.ndarray): (H, W, C) or (H, W) image, uint8 or float.
        sigma (float): standard deviation in pixels, > 0.

    Returns:
        np.ndarray: blurred image, same shape and dtype.
    """
    if sigma <= 0:
        raise ValueError(f'sigma must be > 0, got {sigma}')
    ksize = 2 * int(np.ceil(3 * sigma)) + 1
    out = cv2.GaussianBlur(
        img, (ksize, ksize),
        sigmaX=sigma,
        sigmaY=sigma,
        borderType=cv2.BORDER_REPLICATE)
    # cv2 drops a singleton channel axis.
    return out.reshape(img.shape)


def _check_prob(prob: float) -> float:
    if not 0 <= prob <= 1:
        raise ValueError(f'prob must be in [0, 1], got {prob}')
    return prob


def _factor_range(value: float, name: str) -> Tuple[float, float]:
    """torchvision range ``[max(0, 1 - value), 1 + value]``."""
    if value < 0:
        raise ValueError(f'{name} must be >= 0, got {value}')
    return max(0.0, 1.0 - value), 1.0 + value


@TRANSFORMS.register_module()
class StrongColorJitter(BaseTransform):
    """torchvision ``ColorJitter`` applied with probability ``prob``.

    Factors are drawn like torchvision: brightness, contrast and saturation
    from ``U(max(0, 1 - v), 1 + v)``, hue from ``U(-v, v)``, and the four
    ops run in a random order. Modifies ``img`` only.

    Args:
        brightness (float): Defaults to 0.5.
        contrast (float): Defaults to 0.5.
        saturation (float): Defaults to 0.5.
        hue (float): in [0, 0.5]. Defaults to 0.25.
        prob (float): probability of applying the jitter. Defaults to 0.8.
        channel_order (str): channel order of ``img``. Defaults to 'bgr'.
    """

    def __init__(self,
                 brightness: float = 0.5,
                 contrast: float = 0.5,
                 saturation: float = 0.5,
                 hue: float = 0.25,
                 prob: float = 0.8,
                 channel_order: str = 'bgr') -> None:
        self.brightness = _factor_range(brightness, 'brightness')
        self.contrast = _factor_range(contrast, 'contrast')
        self.saturation = _factor_range(saturation, 'saturation')
        if not 0 <= hue <= 0.5:
            raise ValueError(f'hue must be in [0, 0.5], got {hue}')
        self.hue = (-hue, hue)
        self.prob = _check_prob(prob)
        self.channel_order = _check_channel_order(channel_order)

    def transform(self, results: dict) -> dict:
        """Jitter ``results['img']`` with probability ``prob``."""
        if np.random.rand() >= self.prob:
            return results
        order = np.random.permutation(4).tolist()
        results['img'] = color_jitter(
            results['img'],
            order,
            brightness=np.random.uniform(*self.brightness),
            contrast=np.random.uniform(*self.contrast),
            saturation=np.random.uniform(*self.saturation),
            hue=np.random.uniform(*self.hue),
            channel_order=self.channel_order)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(brightness={self.brightness}, '
                f'contrast={self.contrast}, saturation={self.saturation}, '
                f'hue={self.hue}, prob={self.prob}, '
                f"channel_order='{self.channel_order}')")


@TRANSFORMS.register_module()
class StrongRandomGrayscale(BaseTransform):
    """torchvision ``RandomGrayscale``: with probability ``prob`` replace the
    image by its ITU-R 601-2 luma, keeping 3 equal channels.

    Args:
        prob (float): Defaults to 0.2.
        channel_order (str): channel order of ``img``. Defaults to 'bgr'.
    """

    def __init__(self, prob: float = 0.2, channel_order: str = 'bgr') -> None:
        self.prob = _check_prob(prob)
        self.channel_order = _check_channel_order(channel_order)

    def transform(self, results: dict) -> dict:
        """Convert ``results['img']`` with probability ``prob``."""
        if np.random.rand() < self.prob:
            results['img'] = to_grayscale(results['img'], self.channel_order)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f"channel_order='{self.channel_order}')")


@TRANSFORMS.register_module()
class StrongGaussianBlur(BaseTransform):
    """With probability ``prob`` blur with ``sigma ~ U(sigma[0], sigma[1])``
    (UniMatch: PIL ``GaussianBlur(radius=sigma)``).

    Args:
        prob (float): Defaults to 0.5.
        sigma (tuple[float, float]): range of the standard deviation.
            Defaults to (0.1, 2.0).
    """

    def __init__(self,
                 prob: float = 0.5,
                 sigma: Tuple[float, float] = (0.1, 2.0)) -> None:
        self.prob = _check_prob(prob)
        if not 0 < sigma[0] <= sigma[1]:
            raise ValueError(f'sigma must be (lo, hi) with 0 < lo <= hi, '
                             f'got {sigma!r}')
        self.sigma = (float(sigma[0]), float(sigma[1]))

    def transform(self, results: dict) -> dict:
        """Blur ``results['img']`` with probability ``prob``."""
        if np.random.rand() < self.prob:
            sigma = np.random.uniform(*self.sigma)
            results['img'] = gaussian_blur(results['img'], sigma)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'sigma={self.sigma})')


__all__ = [
    'StrongColorJitter', 'StrongRandomGrayscale', 'StrongGaussianBlur',
    'color_jitter', 'to_grayscale', 'gaussian_blur', 'adjust_brightness',
    'adjust_contrast', 'adjust_saturation', 'adjust_hue', 'rgb_to_luma'
]

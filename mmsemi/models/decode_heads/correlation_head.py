"""CorrMatch's correlation branch: a pixel-to-pixel correlation map and
pixel propagation of (detached) logits through it.

Used only in training; inference never touches it.
"""
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.models.utils import resize
from mmseg.registry import MODELS
from ..utils.precision import float32_compute


@MODELS.register_module()
class CorrelationHead(BaseModule):
    r"""Correlation map and pixel propagation of CorrMatch (CVPR 2024).

    Layout (official code, spec §2.2):

    - ``proj``: conv3x3(``in_channels`` -> ``channels``, bias=True, pad 1)
      -> BN -> ReLU -> ``Dropout2d(dropout_ratio)`` (active in train mode);
    - ``conv1`` / ``conv2``: two separate 1x1 convs (bias=True)
      ``channels`` -> ``corr_channels`` (``D``; the official code uses
      ``D = K``, the number of classes).

    :meth:`forward` maps a feature ``F`` of shape ``(N, C, h, w)`` (the
    last backbone stage, stride 8) to the correlation map

    .. math::
        w_1 = \mathrm{conv1}(\mathrm{proj}(F)),\quad
        w_2 = \mathrm{conv2}(\mathrm{proj}(F)) \in \mathbb{R}^{D\times n},
        \qquad
        C = \mathrm{softmax}_{j}\Big(\frac{w_1^\top w_2}{\sqrt{D}}\Big)
        \in \mathbb{R}^{n\times n},\quad n = h\,w,

    with the scale *inside* the softmax (the code's order, not paper
    Eq. 4), so every row ``C[i, :]`` sums to 1; columns do not.

    :meth:`propagate` multiplies detached logits by ``C`` (spec §4):

    .. math::
        z[k, j] = \sum_i L_\downarrow[k, i]\, C[i, j],

    a contraction over the **row** index of ``C`` (so the weights of an
    output position, a column of ``C``, do not sum to 1; kept on purpose,
    see CorrMatch issue #27).

    Args:
        in_channels (int): Channels of the input feature (2048 for
            ResNet-101 layer 4).
        channels (int): Channels after ``proj``. Defaults to 256.
        corr_channels (int): ``D``, output channels of the two 1x1 convs.
            Required; CorrMatch sets it to the number of classes.
        dropout_ratio (float): ``Dropout2d`` probability after ``proj``.
            Defaults to 0.1.
        norm_cfg (dict): Norm layer after the 3x3 conv. Defaults to
            ``dict(type='BN')`` (use SyncBN for DDP parity).
        align_corners (bool): ``align_corners`` of the bilinear resize of
            the logits in :meth:`propagate`. Defaults to True.
        init_cfg (dict | list[dict], optional): mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
                 channels: int = 256,
                 corr_channels: Optional[int] = None,
                 dropout_ratio: float = 0.1,
                 norm_cfg: dict = dict(type='BN'),
                 align_corners: bool = True,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if corr_channels is None or corr_channels < 1:
            raise ValueError('CorrelationHead: corr_channels (D, the number '
                             'of classes in CorrMatch) must be a positive '
                             f'int; got {corr_channels!r}')
        self.in_channels = in_channels
        self.channels = channels
        self.corr_channels = corr_channels
        self.align_corners = align_corners
        self.proj = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1, bias=True),
            build_norm_layer(norm_cfg, channels)[1],
            nn.ReLU(inplace=True),
            nn.Dropout2d(dropout_ratio),
        )
        self.conv1 = nn.Conv2d(channels, corr_channels, 1, bias=True)
        self.conv2 = nn.Conv2d(channels, corr_channels, 1, bias=True)

    def forward(self, feat: Tensor) -> Tensor:
        """Row-stochastic correlation map of a feature map.

        Args:
            feat (Tensor): ``(N, C, h, w)`` backbone feature.

        Returns:
            Tensor: ``C`` of shape ``(N, n, n)``, ``n = h * w`` (row-major
            flattening of ``(h, w)``),
            ``C = softmax(w1^T w2 / sqrt(D), dim=-1)``, float32 (see
            :func:`row_softmax_correlation`).
        """
        if feat.dim() != 4:
            raise ValueError('CorrelationHead: feat must have shape '
                             f'(N, C, h, w); got {tuple(feat.shape)}')
        x = self.proj(feat)
        return row_softmax_correlation(self.conv1(x).flatten(2),
                                       self.conv2(x).flatten(2))

    @float32_compute
    def propagate(self,
                  corr: Tensor,
                  logits: Tensor,
                  feat_size: Optional[Sequence[int]] = None) -> Tensor:
        """Pixel propagation of detached logits through ``corr``.

        ``L = resize(logits.detach(), (h, w))`` reshaped to ``(N, K, n)``,
        ``z = L @ C`` (``z[k, j] = sum_i L[k, i] C[i, j]``), reshaped to
        ``(N, K, h, w)``. Gradients reach ``C`` only (``proj``, the 1x1
        convs and whatever produced the feature), never the logits' head.
        Upsample the result to the image size for the loss
        (:class:`CorrelationLoss` does it).

        Args:
            corr (Tensor): ``(N, n, n)`` output of :meth:`forward`.
            logits (Tensor): ``(N, K, H, W)`` main-head logits (any size).
            feat_size (tuple[int, int], optional): ``(h, w)`` with
                ``h * w = n``. Defaults to the square ``sqrt(n)``.

        Returns:
            Tensor: Propagated logits ``(N, K, h, w)``, float32 (a sum of
            ``n`` products).
        """
        height, width = self._feat_size(corr, feat_size)
        if logits.dim() != 4 or logits.shape[0] != corr.shape[0]:
            raise ValueError('CorrelationHead.propagate: logits must have '
                             f'shape (N={corr.shape[0]}, K, H, W); got '
                             f'{tuple(logits.shape)}')
        low = resize(logits.detach(), size=(height, width), mode='bilinear',
                     align_corners=self.align_corners)
        num, num_classes = low.shape[:2]
        z = torch.matmul(low.flatten(2), corr)  # (N, K, n)
        return z.reshape(num, num_classes, height, width)

    @staticmethod
    def _feat_size(corr: Tensor,
                   feat_size: Optional[Sequence[int]]) -> Tuple[int, int]:
        if corr.dim() != 3 or corr.shape[1] != corr.shape[2]:
            raise ValueError('CorrelationHead: corr must have shape '
                             f'(N, n, n); got {tuple(corr.shape)}')
        n = corr.shape[1]
        if feat_size is None:
            side = math.isqrt(n)
            if side * side != n:
                raise ValueError(
                    f'CorrelationHead: n = {n} is not a square; pass '
                    'feat_size=(h, w)')
            return side, side
        height, width = (int(s) for s in feat_size)
        if height * width != n:
            raise ValueError(f'CorrelationHead: feat_size {(height, width)} '
                             f'does not match n = {n}')
        return height, width


@float32_compute
def row_softmax_correlation(w1: Tensor, w2: Tensor) -> Tensor:
    """``softmax(w1^T w2 / sqrt(D), dim=-1)`` of ``(N, D, n)`` embeddings,
    ``(N, n, n)`` float32: a softmax over thousands of positions (4,225 at
    crop 513, stride 8) whose largest entries decide the region shapes
    needs more than half precision."""
    affinity = torch.matmul(w1.transpose(1, 2), w2)  # (N, n, n)
    return (affinity / math.sqrt(w1.shape[1])).softmax(dim=-1)

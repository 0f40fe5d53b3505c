"""U2PL's representation (projection) head."""
from typing import Optional

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptMultiConfig


@MODELS.register_module()
class ProjectionHead(BaseModule):
    """Pixel representation head of U2PL (spec §2).

    ``conv3x3(in -> channels) - norm - ReLU - Dropout2d - conv1x1(channels
    -> out_channels, bias)`` applied to decoder features ``(N, in_channels,
    h, w)``; the output is the raw (un-normalised) representation ``z``
    ``(N, out_channels, h, w)`` at the same resolution. The contrastive loss
    normalises it (cosine similarity).

    The official head runs two Conv-BN-ReLU-Dropout blocks on the 512-ch
    concatenation of the ASPP and low-level features; in mmsemi it reads the
    decoder features at the input of the decode head's classifier (for
    :class:`SemiDeepLabV3PlusHead` the fused features, ``channels`` wide,
    which already went through the decoder's two fusion convs), so one
    block is kept.

    Args:
        in_channels (int): Channels of the decoder features.
        channels (int): Hidden channels. Defaults to 256.
        out_channels (int): Representation dimension D. Defaults to 256.
        dropout_ratio (float): ``Dropout2d`` after the hidden block
            (official: 0.1). Defaults to 0.1.
        norm_cfg (dict): Norm of the hidden block. Defaults to BN.
        act_cfg (dict): Activation of the hidden block. Defaults to ReLU.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 channels: int = 256,
                 out_channels: int = 256,
                 dropout_ratio: float = 0.1,
                 norm_cfg: Optional[ConfigType] = None,
                 act_cfg: ConfigType = dict(type='ReLU'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if norm_cfg is None:
            norm_cfg = dict(type='BN', requires_grad=True)
        self.in_channels = in_channels
        self.channels = channels
        self.out_channels = out_channels
        self.conv = ConvModule(in_channels, channels, 3, padding=1,
                               norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.dropout = nn.Dropout2d(dropout_ratio) \
            if dropout_ratio > 0 else nn.Identity()
        self.proj = nn.Conv2d(channels, out_channels, 1, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        """Representation ``(N, out_channels, h, w)`` of ``x``."""
        return self.proj(self.dropout(self.conv(x)))

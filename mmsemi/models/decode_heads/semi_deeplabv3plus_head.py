"""DeepLabV3+ head as used by UniMatch, CorrMatch and RankMatch."""
from typing import List, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from torch import Tensor

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS


class _ImagePool(nn.Module):
    """Global average pooling branch of ASPP, upsampled back to the input."""

    def __init__(self, in_channels: int, channels: int, align_corners: bool,
                 **conv_kwargs) -> None:
        super().__init__()
        self.align_corners = align_corners
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv = ConvModule(in_channels, channels, 1, **conv_kwargs)

    def forward(self, x: Tensor) -> Tensor:
        pooled = self.conv(self.pool(x))
        return resize(pooled, size=x.shape[2:], mode='bilinear',
                      align_corners=self.align_corners)


@MODELS.register_module()
class SemiDeepLabV3PlusHead(BaseDecodeHead):
    """DeepLabV3+ decoder that exposes its features and a perturbed stream.

    The layout follows the DeepLabV3+ of UniMatch/CorrMatch:
    ASPP on the last backbone stage (a 1x1 branch, one 3x3 branch per
    dilation > 1, image pooling, then a 1x1 projection with BN+ReLU and no
    dropout), upsampling to the first stage, a 1x1 reduction of the first
    stage to ``c1_channels``, two 3x3 fusion convs and a 1x1 classifier with
    bias. With ``separable=True`` the dilated and fusion convs are
    depthwise-separable, as in mmseg's ``DepthwiseSeparableASPPHead``.

    Unlike mmseg's head it splits :meth:`forward_features` (``(N, channels,
    h, w)`` before the classifier) from :meth:`cls_seg`. The methods
    perturb and read features through
    :func:`~mmsemi.models.utils.decode_with_perturbation` and
    :func:`~mmsemi.models.utils.decode_with_features`, which work on any
    ``BaseDecodeHead``; on this head they give the official model's
    ``forward(need_fp=True)`` (the official-step tests compare them).

    Args:
        dilations (Sequence[int]): ASPP dilations; 1 gives the 1x1 branch.
            UniMatch VOC: (1, 6, 12, 18) at output stride 16; CorrMatch:
            (1, 12, 24, 36) at output stride 8.
        c1_channels (int): Channels of the reduced first stage. Default 48.
        separable (bool): Depthwise-separable convs. Default False.
        in_channels (Sequence[int]): Channels of (first stage, last stage).
        in_index (Sequence[int]): Backbone outputs used, e.g. (0, 3).
        dropout_ratio (float): Classifier dropout; 0 matches UniMatch.
        align_corners (bool): True matches UniMatch.
    """

    #: Named feature points for ``decode_with_features(prefer=...)``:
    #: 'aspp' is the projected ASPP output before the fusion with ``c1``;
    #: 'fusion_input' the concatenation ``[c1_reduce(c1), up(aspp)]`` that
    #: enters ``fuse`` (the official DeepLabV3+ classifier input, 304
    #: channels in ReCo/CSS).
    feature_points = {'aspp': 'aspp_project', 'fusion_input': 'fusion_input'}

    def __init__(self,
                 dilations: Sequence[int] = (1, 12, 24, 36),
                 c1_channels: int = 48,
                 separable: bool = False,
                 in_index: Sequence[int] = (0, 3),
                 dropout_ratio: float = 0.0,
                 align_corners: bool = True,
                 **kwargs) -> None:
        super().__init__(
            in_index=list(in_index),
            input_transform='multiple_select',
            dropout_ratio=dropout_ratio,
            align_corners=align_corners,
            **kwargs)
        c1_in, c4_in = self.in_channels
        conv_kwargs = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                           act_cfg=self.act_cfg)
        conv3x3 = DepthwiseSeparableConvModule if separable else ConvModule
        branches: List[nn.Module] = []
        for dilation in dilations:
            if dilation == 1:
                branches.append(
                    ConvModule(c4_in, self.channels, 1, **conv_kwargs))
            else:
                branches.append(
                    conv3x3(c4_in, self.channels, 3, padding=dilation,
                            dilation=dilation, **conv_kwargs))
        branches.append(
            _ImagePool(c4_in, self.channels, align_corners, **conv_kwargs))
        self.aspp = nn.ModuleList(branches)
        self.aspp_project = ConvModule(
            self.channels * len(branches), self.channels, 1, **conv_kwargs)
        self.c1_reduce = ConvModule(c1_in, c1_channels, 1, **conv_kwargs)
        # identity marking the 'fusion_input' feature point
        self.fusion_input = nn.Identity()
        self.feature_channels = {'aspp': self.channels,
                                 'fusion_input': self.channels + c1_channels}
        self.fuse = nn.Sequential(
            conv3x3(self.channels + c1_channels, self.channels, 3, padding=1,
                    **conv_kwargs),
            conv3x3(self.channels, self.channels, 3, padding=1,
                    **conv_kwargs))

    def _decode(self, c1: Tensor, c4: Tensor) -> Tensor:
        aspp = torch.cat([branch(c4) for branch in self.aspp], dim=1)
        high = resize(self.aspp_project(aspp), size=c1.shape[2:],
                      mode='bilinear', align_corners=self.align_corners)
        return self.fuse(
            self.fusion_input(torch.cat([self.c1_reduce(c1), high], dim=1)))

    def forward_features(self, inputs: Sequence[Tensor]) -> Tensor:
        """Decoder features before the classifier, ``(N, channels, h, w)``
        at the resolution of the first selected stage."""
        c1, c4 = self._transform_inputs(inputs)
        return self._decode(c1, c4)

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Logits ``(N, num_classes, h, w)`` at the first stage's
        resolution."""
        return self.cls_seg(self.forward_features(inputs))

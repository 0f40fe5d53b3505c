"""UniMatch V2's DPT decode head (no BN), as an mmseg decode head."""
from typing import Dict, List, Optional, Sequence

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS

#: Widths of UniMatch V2's head per DINOv2 size: ``channels`` (the
#: official ``features``) and ``post_process_channels`` (the official
#: ``out_channels``).
DPT_WIDTHS: Dict[str, dict] = {
    'small': dict(channels=64, post_process_channels=[48, 96, 192, 384]),
    'base': dict(channels=128, post_process_channels=[96, 192, 384, 768]),
    'large': dict(channels=256,
                  post_process_channels=[256, 512, 1024, 1024]),
}


class ResidualConvUnit(nn.Module):
    """``x + conv2(relu(conv1(relu(x))))`` with 3x3 convs (bias, no BN).

    Shapes: ``(N, C, h, w)`` -> ``(N, C, h, w)``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(F.relu(x))
        return self.conv2(F.relu(out)) + x


class FusionBlock(nn.Module):
    """RefineNet-style fusion without BN.

    ``out_conv(up(unit2(x + unit1(skip))))``: the skip (absent for the
    deepest level, which has no ``unit1``) goes through a residual unit and
    is added, a second residual unit follows, then a bilinear resize
    (``align_corners=True``) to ``size`` or by 2, then a 1x1 conv (bias).

    Shapes: ``x`` and ``skip`` ``(N, C, h, w)`` -> ``(N, C, H, W)`` with
    ``(H, W) = size`` or ``(2h, 2w)``.
    """

    def __init__(self, channels: int, with_skip: bool = True) -> None:
        super().__init__()
        self.unit1 = ResidualConvUnit(channels) if with_skip else None
        self.unit2 = ResidualConvUnit(channels)
        self.out_conv = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor, skip: Optional[Tensor] = None,
                size: Optional[Sequence[int]] = None) -> Tensor:
        if skip is not None:
            x = x + self.unit1(skip)
        x = self.unit2(x)
        resize = dict(size=tuple(size)) if size is not None \
            else dict(scale_factor=2)
        x = F.interpolate(x, **resize, mode='bilinear', align_corners=True)
        return self.out_conv(x)


@MODELS.register_module()
class UniMatchV2DPTHead(BaseDecodeHead):
    """The DPT head of UniMatch V2 (and Depth Anything), without BN.

    Input: four patch-grid feature maps ``(N, C_i, h, w)`` (a ViT's tapped
    layers with the class token dropped, e.g. DINOv2 layers [2, 5, 8, 11]),
    bare tensors, not mmseg ViT's ``[map, cls_token]`` pairs.

    1. Per level a 1x1 projection to ``post_process_channels[i]``, then a
       resize to 4x (transposed conv k4 s4), 2x (transposed conv k2 s2),
       1x (identity) and 1/2 (3x3 conv, stride 2, padding 1) of the grid.
    2. Per level a 3x3 conv (no bias) to ``channels``.
    3. Four :class:`FusionBlock` s from the deepest level up; each resizes
       to the next level's size, the last by 2: the fused map is
       ``(N, channels, 8h, 8w)``.
    4. Output conv: 3x3 conv -> ReLU (the decoder feature, input of
       ``cls_seg``) -> 1x1 conv to the classes (``conv_seg``).

    Output: logits ``(N, num_classes, 8h, 8w)``, what the official
    ``DPTHead.forward`` returns. The official model then resizes them
    bilinearly (``align_corners=True``) to ``(14h, 14w)``, the input size
    floored to the patch grid. Here that resize is mmseg's (``loss_by_feat``,
    ``predict_by_feat``, the methods' logits upsampling), straight to the
    input (label) size with this head's ``align_corners`` (True by
    default): the same values when the input is a multiple of the patch
    size, as in UniMatch V2's crops and evaluation.

    The official deepest fusion block has an unused first residual unit;
    it is left out here. Official widths are in :data:`DPT_WIDTHS`.

    Args:
        arch (str, optional): 'small', 'base' or 'large': ``channels`` and
            ``post_process_channels`` from :data:`DPT_WIDTHS`. None: give
            them explicitly.
        post_process_channels (Sequence[int], optional): Width of each
            level after its projection.
        in_channels (int | Sequence[int]): Channels of the four inputs
            (the ViT embedding dimension).
        in_index (Sequence[int]): The four backbone outputs read.
            Defaults to (0, 1, 2, 3).
        **kwargs: ``BaseDecodeHead`` arguments (``channels``, the fused
            width; ``num_classes``; ...). Defaults differing from
            ``BaseDecodeHead``, as the official model: ``dropout_ratio=0``,
            ``align_corners=True`` and ``init_cfg=None`` (PyTorch's
            default initialisation of every conv, the classifier
            included).
    """

    def __init__(self,
                 in_channels,
                 arch: Optional[str] = None,
                 post_process_channels: Optional[Sequence[int]] = None,
                 in_index: Sequence[int] = (0, 1, 2, 3),
                 **kwargs) -> None:
        widths = self._widths(arch, post_process_channels, kwargs)
        if isinstance(in_channels, int):
            in_channels = [in_channels] * len(in_index)
        kwargs.setdefault('dropout_ratio', 0.0)
        kwargs.setdefault('align_corners', True)
        kwargs.setdefault('init_cfg', None)
        super().__init__(in_channels=list(in_channels), in_index=in_index,
                         input_transform='multiple_select', **kwargs)
        if len(self.in_channels) != 4 or len(widths) != 4:
            raise ValueError(
                f'{type(self).__name__} fuses 4 levels; got in_channels '
                f'{self.in_channels} and post_process_channels {widths}')
        self.post_process_channels = widths
        self.projects = nn.ModuleList(
            nn.Conv2d(c_in, c_out, 1)
            for c_in, c_out in zip(self.in_channels, widths))
        self.resize_layers = nn.ModuleList([
            nn.ConvTranspose2d(widths[0], widths[0], 4, stride=4),
            nn.ConvTranspose2d(widths[1], widths[1], 2, stride=2),
            nn.Identity(),
            nn.Conv2d(widths[3], widths[3], 3, stride=2, padding=1),
        ])
        self.level_convs = nn.ModuleList(
            nn.Conv2d(c, self.channels, 3, padding=1, bias=False)
            for c in widths)
        self.fusion_blocks = nn.ModuleList(
            FusionBlock(self.channels, with_skip=i > 0) for i in range(4))
        self.output_conv = nn.Conv2d(self.channels, self.channels, 3,
                                     padding=1)

    @staticmethod
    def _widths(arch: Optional[str],
                post_process_channels: Optional[Sequence[int]],
                kwargs: dict) -> List[int]:
        """``post_process_channels``, filling ``kwargs['channels']`` from
        ``arch`` when given."""
        if arch is None:
            if post_process_channels is None:
                raise ValueError('give arch (one of '
                                 f'{sorted(DPT_WIDTHS)}) or '
                                 'post_process_channels and channels')
            return list(post_process_channels)
        if arch not in DPT_WIDTHS:
            raise ValueError(f'arch {arch!r} is not one of '
                             f'{sorted(DPT_WIDTHS)}')
        if post_process_channels is not None or 'channels' in kwargs:
            raise ValueError('give arch or channels and '
                             'post_process_channels, not both')
        kwargs['channels'] = DPT_WIDTHS[arch]['channels']
        return list(DPT_WIDTHS[arch]['post_process_channels'])

    def levels(self, inputs: Sequence[Tensor]) -> List[Tensor]:
        """Projected, resized and 3x3-convolved levels.

        Args:
            inputs: backbone outputs; the ``in_index`` ones are patch-grid
                maps ``(N, C_i, h, w)``.

        Returns:
            list[Tensor]: ``(N, channels, s h, s w)`` for s = 4, 2, 1, 1/2
            (rounded up).
        """
        feats = self._transform_inputs(inputs)
        for i, feat in enumerate(feats):
            if not isinstance(feat, Tensor) or feat.dim() != 4:
                raise TypeError(
                    f'{type(self).__name__} reads feature maps (N, C, h, '
                    f'w); backbone output {self.in_index[i]} is not one '
                    '(a [map, cls_token] pair? use output_cls_token=False)')
        return [conv(resize(project(x))) for x, project, resize, conv in
                zip(feats, self.projects, self.resize_layers,
                    self.level_convs)]

    def fuse(self, levels: Sequence[Tensor]) -> Tensor:
        """Fuse the levels from the deepest up.

        Args:
            levels: the four maps of :meth:`levels`.

        Returns:
            Tensor: ``(N, channels, 2 H1, 2 W1)``, ``(H1, W1)`` the size of
            the first (4x) level.
        """
        blocks = self.fusion_blocks
        out = blocks[0](levels[3], size=levels[2].shape[-2:])
        out = blocks[1](out, levels[2], size=levels[1].shape[-2:])
        out = blocks[2](out, levels[1], size=levels[0].shape[-2:])
        return blocks[3](out, levels[0])

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Logits ``(N, num_classes, 8h, 8w)`` of patch-grid maps
        ``(N, C_i, h, w)``."""
        fused = self.fuse(self.levels(inputs))
        return self.cls_seg(F.relu(self.output_conv(fused)))

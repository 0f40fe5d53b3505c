"""DINOv2 ViT encoder with UniMatch V2's feature taps.

The transformer is mmpretrain's ``VisionTransformer`` (built from config,
weights in its key layout); this module only chooses the DINOv2 architecture
and reads the features the way DINOv2's ``get_intermediate_layers(x, idx,
norm=True)`` does: the final LayerNorm (``ln1``) on *every* tapped block and
the class token dropped. mmpretrain's own forward normalises only the output
of the last block.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

# Architecture names of mmpretrain's ``VisionTransformer.arch_zoo``: its
# ``small`` (768-d, 8 layers) is not DINOv2-S; ``dinov2-small`` is (384-d,
# 12 layers, 6 heads, MLP 1536).
DINOV2_ARCHS: Dict[str, str] = {
    'small': 'dinov2-small',
    'base': 'base',
    'large': 'large',
}

# Blocks UniMatch V2 taps (0-based).
DINOV2_OUT_INDICES: Dict[str, Tuple[int, ...]] = {
    'small': (2, 5, 8, 11),
    'base': (2, 5, 8, 11),
    'large': (4, 11, 17, 23),
}

# mmpretrain's conversions of the official ``dinov2_vit{s,b,l}14_pretrain.pth``
# (model names ``vit-{small,base,large}-p14_dinov2-pre_3rdparty``). Their keys
# start with ``backbone.``: load them with
# ``init_cfg=dict(type='Pretrained', checkpoint=URL, prefix='backbone.')``.
# ``tools/model_converters/dinov2_to_mmpretrain.py`` writes the same layout
# from the official files.
DINOV2_CHECKPOINTS: Dict[str, str] = {
    'small': 'https://download.openmmlab.com/mmpretrain/v1.0/dinov2/'
    'vit-small-p14_dinov2-pre_3rdparty_20230426-5641ca5a.pth',
    'base': 'https://download.openmmlab.com/mmpretrain/v1.0/dinov2/'
    'vit-base-p14_dinov2-pre_3rdparty_20230426-ba246503.pth',
    'large': 'https://download.openmmlab.com/mmpretrain/v1.0/dinov2/'
    'vit-large-p14_dinov2-pre_3rdparty_20230426-f3302d9e.pth',
}

POS_EMBED_MODES = ('dinov2', 'mmpretrain')


#: Channels of every tapped feature map (the ViT's embedding width).
DINOV2_EMBED_DIMS: Dict[str, int] = {'small': 384, 'base': 768, 'large': 1024}


def dinov2_dpt_changes(arch: str) -> dict:
    """The ``model`` changes that turn the DINOv2-S + UniMatch V2 DPT model
    base into size ``arch`` ('base' or 'large'): encoder, its published
    weights, the head's widths and input channels."""
    return dict(
        backbone=dict(arch=arch, init_cfg=dinov2_pretrained(arch)),
        decode_head=dict(arch=arch, in_channels=DINOV2_EMBED_DIMS[arch]))


def dinov2_pretrained(arch: str) -> dict:
    """The ``init_cfg`` that loads mmpretrain's converted DINOv2 weights of
    ``arch`` ('small', 'base' or 'large') into :class:`DINOv2`; configs
    call it so the checkpoint names live only in
    :data:`DINOV2_CHECKPOINTS`."""
    if arch not in DINOV2_CHECKPOINTS:
        raise ValueError(f'DINOv2: no published checkpoint for arch '
                         f'{arch!r}; choose from {sorted(DINOV2_CHECKPOINTS)}')
    return dict(type='Pretrained', checkpoint=DINOV2_CHECKPOINTS[arch],
                prefix='backbone.')


def dinov2_resize_pos_embed(pos_embed: Tensor, src_shape: Sequence[int],
                            dst_shape: Sequence[int],
                            offset: float = 0.1) -> Tensor:
    """Resize a position embedding as DINOv2's ``interpolate_pos_encoding``.

    The patch grid is resized bicubically by the *scale factor*
    ``(dst + offset) / src`` (no antialiasing), which samples the source grid
    at slightly different points than resizing to the target size
    (mmpretrain's ``resize_pos_embed``). Nothing changes when the grids are
    equal.

    Args:
        pos_embed: (1, 1 + src_h * src_w, C), class token first.
        src_shape: (src_h, src_w) of the stored grid.
        dst_shape: (dst_h, dst_w) of the input's patch grid.
        offset: DINOv2's ``interpolate_offset`` (0.1; 0.0 in the register
            models).

    Returns:
        (1, 1 + dst_h * dst_w, C) in the dtype of ``pos_embed``.
    """
    src_h, src_w = src_shape
    dst_h, dst_w = dst_shape
    if (src_h, src_w) == (dst_h, dst_w):
        return pos_embed
    channels = pos_embed.shape[-1]
    cls_embed, patch_embed = pos_embed[:, :1], pos_embed[:, 1:]
    grid = patch_embed.float().reshape(1, src_h, src_w, channels)
    grid = F.interpolate(
        grid.permute(0, 3, 1, 2),
        scale_factor=((dst_h + offset) / src_h, (dst_w + offset) / src_w),
        mode='bicubic',
        antialias=False)
    if tuple(grid.shape[-2:]) != (dst_h, dst_w):
        raise ValueError(
            f'position-embedding interpolation from {src_h}x{src_w} gave a '
            f'{tuple(grid.shape[-2:])} grid for a {dst_h}x{dst_w} input; '
            'choose another interpolate_offset')
    grid = grid.permute(0, 2, 3, 1).reshape(1, dst_h * dst_w, channels)
    return torch.cat((cls_embed, grid.to(pos_embed.dtype)), dim=1)


@MODELS.register_module()
class DINOv2(BaseModule):
    """DINOv2 ViT (mmpretrain ``VisionTransformer``) returning UniMatch V2's
    four normalised feature maps.

    Args:
        arch: ``'small'``, ``'base'``, ``'large'`` (DINOv2 ViT-S/B/L), or an
            mmpretrain custom-arch dict with ``embed_dims``, ``num_layers``,
            ``num_heads`` and ``feedforward_channels`` (then ``out_indices``
            is required).
        out_indices: 0-based blocks to tap. Defaults to UniMatch V2's:
            ``(2, 5, 8, 11)`` for S/B, ``(4, 11, 17, 23)`` for L.
        img_size: the size the position embedding is stored for (518: a
            37x37 grid, as in the official weights).
        patch_size: 14 for DINOv2.
        layer_scale_init_value: initial layer-scale value (the official
            module uses 1.0; pretrained weights carry their own values).
        pos_embed_interp: how the position embedding is resized for inputs
            whose patch grid is not ``img_size / patch_size``: ``'dinov2'``
            (default; DINOv2's scale factor ``(n + interpolate_offset) / 37``,
            as the official UniMatch V2 code) or ``'mmpretrain'``
            (mmpretrain's resize to the target grid). The two differ at every
            size but ``img_size``; see the README.
        interpolate_offset: the offset of ``'dinov2'`` interpolation.
        frozen: freeze the encoder: no parameter requires grad, the module
            stays in eval mode under ``train()`` and the forward runs without
            autograd (UniMatch V2's ``lock_backbone`` for small GPUs).
        output_cls_token: return ``[map, cls_token (N, C)]`` pairs (the
            token normalised like the map), the form mmseg's ``DPTHead``
            reads, instead of bare maps (UniMatch V2's DPT head).
        vit_cfg: further keyword arguments for mmpretrain's
            ``VisionTransformer`` (e.g. ``drop_path_rate``).
        init_cfg: initialisation of the transformer, e.g.
            ``dict(type='Pretrained', checkpoint=DINOV2_CHECKPOINTS['small'],
            prefix='backbone.')``. It is handed to the inner
            ``VisionTransformer``, so checkpoint keys are in mmpretrain's
            layout.

    Shapes:
        input: (N, 3, H, W) with H and W multiples of ``patch_size``.
        output: a tuple of ``len(out_indices)`` maps of shape
        (N, C, H / patch_size, W / patch_size), C = ``embed_dims`` (with
        ``output_cls_token``: ``[map, cls_token (N, C)]`` pairs).
    """

    def __init__(self,
                 arch: Union[str, dict] = 'small',
                 out_indices: Optional[Sequence[int]] = None,
                 img_size: int = 518,
                 patch_size: int = 14,
                 layer_scale_init_value: float = 1.0,
                 pos_embed_interp: str = 'dinov2',
                 interpolate_offset: float = 0.1,
                 frozen: bool = False,
                 output_cls_token: bool = False,
                 vit_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=None)
        if isinstance(arch, str):
            if arch not in DINOV2_ARCHS:
                raise ValueError(
                    f'DINOv2: unknown arch {arch!r}; choose from '
                    f'{sorted(DINOV2_ARCHS)} or pass a custom-arch dict')
            vit_arch = DINOV2_ARCHS[arch]
            if out_indices is None:
                out_indices = DINOV2_OUT_INDICES[arch]
        else:
            vit_arch = dict(arch)
            if out_indices is None:
                raise ValueError('DINOv2: a custom arch dict needs explicit '
                                 'out_indices')
        if pos_embed_interp not in POS_EMBED_MODES:
            raise ValueError(f'DINOv2: pos_embed_interp must be one of '
                             f'{POS_EMBED_MODES}, got {pos_embed_interp!r}')
        self.out_indices = tuple(int(i) for i in out_indices)
        self.patch_size = patch_size
        self.pos_embed_interp = pos_embed_interp
        self.interpolate_offset = interpolate_offset
        self.frozen = frozen
        self.output_cls_token = output_cls_token

        try:
            import mmpretrain.models  # noqa: F401  (registers the ViT)
        except Exception as error:  # torchvision missing or mismatched
            raise ImportError(
                'DINOv2 needs mmpretrain, which imports torchvision: '
                f'`import mmpretrain.models` failed ({error}). Run '
                '`bash tools/setup_env.sh` (a matching torch/torchvision '
                'pair).') from error
        cfg = dict(
            type='mmpretrain.VisionTransformer',
            arch=vit_arch,
            img_size=img_size,
            patch_size=patch_size,
            out_indices=list(self.out_indices),
            out_type='featmap',
            with_cls_token=True,
            final_norm=True,
            layer_scale_init_value=layer_scale_init_value,
            norm_cfg=dict(type='LN', eps=1e-6),
            init_cfg=init_cfg)
        cfg.update(vit_cfg or {})
        self.vit = MODELS.build(cfg)
        num_layers = len(self.vit.layers)
        bad = [i for i in self.out_indices if not 0 <= i < num_layers]
        if bad:
            raise ValueError(f'DINOv2: out_indices {bad} outside the '
                             f'{num_layers} blocks')
        self.embed_dims = self.vit.embed_dims
        if frozen:
            for param in self.vit.parameters():
                param.requires_grad = False
            self.vit.eval()

    def train(self, mode: bool = True) -> 'DINOv2':
        super().train(mode)
        if self.frozen:
            self.vit.eval()
        return self

    def _pos_embed(self, grid: Tuple[int, int]) -> Tensor:
        vit = self.vit
        src = tuple(vit.patch_resolution)
        if self.pos_embed_interp == 'dinov2':
            return dinov2_resize_pos_embed(vit.pos_embed, src, grid,
                                           self.interpolate_offset)
        return vit.resize_pos_embed(
            vit.pos_embed, src, grid, mode=vit.interpolate_mode,
            num_extra_tokens=1)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """(N, 3, H, W) -> tuple of (N, C, H/14, W/14), one per tapped block,
        each normalised by the final LayerNorm, class token dropped."""
        height, width = x.shape[-2:]
        if height % self.patch_size or width % self.patch_size:
            raise ValueError(
                f'DINOv2: input size {height}x{width} is not a multiple of '
                f'the patch size {self.patch_size}; resize or crop the '
                f'inputs to multiples of {self.patch_size}')
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and not self.frozen):
            return self._forward(x)

    def _forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        vit = self.vit
        batch = x.shape[0]
        tokens, grid = vit.patch_embed(x)
        tokens = torch.cat((vit.cls_token.expand(batch, -1, -1), tokens),
                           dim=1)
        tokens = tokens + self._pos_embed(tuple(grid)).to(tokens.dtype)
        tokens = vit.pre_norm(vit.drop_after_pos(tokens))
        taps = {}
        for index, layer in enumerate(vit.layers[:max(self.out_indices) + 1]):
            tokens = layer(tokens)
            if index in self.out_indices:
                normed = vit.ln1(tokens)
                taps[index] = normed[:, 1:].transpose(1, 2).reshape(
                    batch, -1, *grid).contiguous()
                if self.output_cls_token:
                    taps[index] = [taps[index], normed[:, 0]]
        return tuple(taps[i] for i in self.out_indices)


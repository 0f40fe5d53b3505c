"""The DINOv2 backbone: mmpretrain's VisionTransformer with UniMatch V2's
taps (final LayerNorm on every tapped block, class token dropped)."""
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

import mmsemi.models  # noqa: F401
from _dinov2_reference import randomize_
from mmsemi.models.backbones import (DINOV2_ARCHS, DINOV2_CHECKPOINTS,
                                     DINOV2_OUT_INDICES, DINOv2,
                                     dinov2_resize_pos_embed)

TINY_ARCH = dict(embed_dims=32, num_layers=4, num_heads=2,
                 feedforward_channels=64)


def tiny(**kwargs):
    cfg = dict(type='DINOv2', arch=TINY_ARCH, out_indices=(0, 2, 3),
               img_size=56)
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    randomize_(model)
    return model.eval()


def test_arch_names_are_the_dinov2_models():
    """S is mmpretrain's 'dinov2-small' (384-d, 12 blocks, 6 heads, MLP 1536),
    not its 'small'; B/L are 'base'/'large'; UniMatch V2's taps."""
    from mmpretrain.models import VisionTransformer
    zoo = VisionTransformer.arch_zoo
    expected = {'small': (384, 12, 6, 1536), 'base': (768, 12, 12, 3072),
                'large': (1024, 24, 16, 4096)}
    for name, dims in expected.items():
        arch = zoo[DINOV2_ARCHS[name]]
        assert (arch['embed_dims'], arch['num_layers'], arch['num_heads'],
                arch['feedforward_channels']) == dims
    assert zoo['small']['embed_dims'] == 768  # mmpretrain's 'small' is not S
    assert DINOV2_OUT_INDICES == {'small': (2, 5, 8, 11),
                                  'base': (2, 5, 8, 11),
                                  'large': (4, 11, 17, 23)}
    assert set(DINOV2_CHECKPOINTS) == {'small', 'base', 'large'}
    assert all('p14_dinov2-pre_3rdparty' in url
               for url in DINOV2_CHECKPOINTS.values())


def test_dinov2_small_from_config():
    """A DINOv2-S segmentor encoder built from a config (no weights):
    (1, 3, 28, 42) -> four (1, 384, 2, 3) maps; 37x37 position grid and
    layer scale in every block."""
    model = MODELS.build(dict(type='DINOv2', arch='small'))
    assert model.out_indices == (2, 5, 8, 11)
    assert model.embed_dims == 384 and len(model.vit.layers) == 12
    assert model.vit.pos_embed.shape == (1, 1 + 37 * 37, 384)
    assert model.vit.patch_embed.projection.kernel_size == (14, 14)
    gammas = model.vit.layers[0].attn.gamma1.weight
    assert torch.equal(gammas, torch.ones(384))  # official init value 1.0
    with torch.no_grad():
        feats = model(torch.randn(1, 3, 28, 42))
    assert [tuple(f.shape) for f in feats] == [(1, 384, 2, 3)] * 4


def test_mmpretrain_vit_from_mmseg_config():
    """mmpretrain's ViT itself builds through mmseg's registry by its scoped
    name, as in stock configs."""
    vit = MODELS.build(dict(type='mmpretrain.VisionTransformer',
                            arch=TINY_ARCH, img_size=56, patch_size=14,
                            out_type='featmap'))
    out = vit(torch.randn(2, 3, 56, 56))
    assert tuple(out[-1].shape) == (2, 32, 4, 4)


def test_every_tap_is_normalised_by_the_final_norm():
    """Tap i = ln1(block i output)[:, 1:] as a (B, C, h, w) map: checked
    against mmpretrain's own forward with raw outputs (``out_type='raw'``),
    whose last block it normalises itself."""
    model = tiny()
    vit = model.vit
    x = torch.randn(2, 3, 56, 56)
    with torch.no_grad():
        feats = model(x)
        vit.out_type = 'raw'
        raw = vit(x)  # (B, 1 + 16, 32); un-normalised except the last
        vit.out_type = 'featmap'
    expected = [vit.ln1(raw[0]), vit.ln1(raw[1]), raw[2]]
    for feat, tokens in zip(feats, expected):
        maps = tokens[:, 1:].transpose(1, 2).reshape(2, 32, 4, 4)
        torch.testing.assert_close(feat, maps, rtol=1e-5, atol=1e-5)
    # mmpretrain's own output of block 0 is not normalised; the tap is.
    assert not torch.allclose(feats[0], raw[0][:, 1:].transpose(1, 2)
                              .reshape(2, 32, 4, 4))


def test_output_cls_token_gives_pairs_of_the_same_map():
    """``output_cls_token=True``: ``[map, token]`` per tap, the map equal
    to the bare tap and the token the normalised class token."""
    bare = tiny()
    paired = tiny(output_cls_token=True)
    paired.load_state_dict(bare.state_dict())
    x = torch.randn(2, 3, 56, 56)
    with torch.no_grad():
        maps, pairs = bare(x), paired(x)
        paired.vit.out_type = 'raw'
        raw = paired.vit(x)
    for index, (feat, (fmap, token)) in enumerate(zip(maps, pairs)):
        assert torch.equal(fmap, feat)
        expected = raw[index] if index == len(maps) - 1 else \
            paired.vit.ln1(raw[index])
        torch.testing.assert_close(token, expected[:, 0], rtol=1e-5,
                                   atol=1e-5)
    assert paired.output_cls_token and not bare.output_cls_token


def test_pos_embed_mmpretrain_mode_equals_mmpretrain_forward():
    """With ``pos_embed_interp='mmpretrain'`` the last tap equals
    mmpretrain's own featmap output at a new size (70x84: 5x6 grid)."""
    model = tiny(pos_embed_interp='mmpretrain')
    x = torch.randn(1, 3, 70, 84)
    with torch.no_grad():
        ours = model(x)[-1]
        theirs = model.vit(x)[-1]
    assert tuple(ours.shape) == (1, 32, 5, 6)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_dinov2_resize_pos_embed_values():
    """Identity at the stored grid; a constant grid stays constant; the
    class token is untouched; and the scale factor (n + 0.1) / N is used, not
    the target size: values differ from mmpretrain's resize."""
    from mmpretrain.models.utils import resize_pos_embed
    pos = torch.randn(1, 1 + 4 * 4, 8)
    assert dinov2_resize_pos_embed(pos, (4, 4), (4, 4)) is pos
    const = torch.cat([torch.zeros(1, 1, 8), torch.full((1, 16, 8), 3.)], 1)
    out = dinov2_resize_pos_embed(const, (4, 4), (6, 5))
    assert out.shape == (1, 1 + 30, 8)
    torch.testing.assert_close(out[:, 1:], torch.full((1, 30, 8), 3.))
    out = dinov2_resize_pos_embed(pos, (4, 4), (6, 5))
    assert torch.equal(out[:, :1], pos[:, :1])
    grid = pos[:, 1:].reshape(1, 4, 4, 8).permute(0, 3, 1, 2)
    by_scale = F.interpolate(grid, scale_factor=(6.1 / 4, 5.1 / 4),
                             mode='bicubic')
    torch.testing.assert_close(
        out[:, 1:], by_scale.flatten(2).transpose(1, 2))
    by_size = resize_pos_embed(pos, (4, 4), (6, 5), 'bicubic', 1)
    assert (out - by_size).abs().max() > 1e-2


def test_frozen_encoder():
    """``frozen=True``: no parameter requires grad, ``train()`` keeps the
    encoder in eval mode, features carry no autograd graph."""
    model = tiny(frozen=True)
    model.train()
    assert not model.vit.training
    assert not any(p.requires_grad for p in model.parameters())
    feats = model(torch.randn(1, 3, 28, 28))
    assert all(f.grad_fn is None and not f.requires_grad for f in feats)
    unfrozen = tiny()
    unfrozen.train()
    assert unfrozen.vit.training
    assert all(f.requires_grad for f in unfrozen(torch.randn(1, 3, 28, 28)))


def test_segmentor_with_dinov2_student_trains():
    """EncoderDecoder(DINOv2 tiny, FCNHead on the last tap): loss is finite
    and reaches the encoder."""
    segmentor = MODELS.build(dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor'),
        backbone=dict(type='DINOv2', arch=TINY_ARCH, out_indices=(1, 3),
                      img_size=56),
        decode_head=dict(type='FCNHead', in_channels=32, channels=8,
                         num_convs=1, in_index=1, num_classes=3,
                         norm_cfg=dict(type='BN'))))
    from mmseg.structures import SegDataSample
    from mmengine.structures import PixelData
    samples = []
    for _ in range(2):
        sample = SegDataSample(metainfo=dict(img_shape=(28, 28),
                                             pad_shape=(28, 28)))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 3, (1, 28, 28)))
        samples.append(sample)
    losses = segmentor.loss(torch.randn(2, 3, 28, 28), samples)
    loss = losses['decode.loss_ce']
    loss.backward()
    assert torch.isfinite(loss)
    grad = segmentor.backbone.vit.layers[0].attn.qkv.weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_pretrained_init_cfg_loads_mmpretrain_layout(tmp_path):
    """``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
    loads a checkpoint in the published mmpretrain layout (keys under
    ``backbone.``, plus ``mask_token``, which the ViT does not have)."""
    source = tiny()
    state = {f'backbone.{k}': v for k, v in source.vit.state_dict().items()}
    state['backbone.mask_token'] = torch.zeros(1, 32)
    path = tmp_path / 'dinov2_tiny.pth'
    torch.save(dict(state_dict=state), path)
    model = MODELS.build(dict(
        type='DINOv2', arch=TINY_ARCH, out_indices=(0, 2, 3), img_size=56,
        init_cfg=dict(type='Pretrained', checkpoint=str(path),
                      prefix='backbone.')))
    model.init_weights()
    for key, value in source.vit.state_dict().items():
        assert torch.equal(model.vit.state_dict()[key], value), key


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match='not a multiple of the patch size'):
        tiny()(torch.randn(1, 3, 30, 28))
    with pytest.raises(ValueError, match="unknown arch 'tiny'"):
        DINOv2(arch='tiny')
    with pytest.raises(ValueError, match='needs explicit out_indices'):
        DINOv2(arch=TINY_ARCH, img_size=56)
    with pytest.raises(ValueError, match=r'out_indices \[4\] outside'):
        DINOv2(arch=TINY_ARCH, out_indices=(1, 4), img_size=56)
    with pytest.raises(ValueError, match='pos_embed_interp'):
        DINOv2(arch=TINY_ARCH, out_indices=(1, ), pos_embed_interp='cubic')

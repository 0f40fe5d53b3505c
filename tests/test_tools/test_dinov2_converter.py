"""tools/model_converters/dinov2_to_mmpretrain.py: official DINOv2 weights
to mmpretrain's VisionTransformer, checked against a re-statement of the
official forward (tests/test_models/_dinov2_reference.py)."""
import importlib.util
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmseg.registry import MODELS

import mmsemi.models  # noqa: F401
from test_models._dinov2_reference import (OfficialDinoViT, randomize_,
                                           tokens_to_maps)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(ROOT, 'tools', 'model_converters',
                  'dinov2_to_mmpretrain.py')
TINY_ARCH = dict(embed_dims=32, num_layers=4, num_heads=2,
                 feedforward_channels=64)
TAPS = (0, 2, 3)


def load_converter():
    spec = importlib.util.spec_from_file_location('dinov2_to_mmpretrain',
                                                  SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def official():
    return randomize_(OfficialDinoViT(img_size=56, dim=32, depth=4,
                                      num_heads=2, mlp_ratio=2)).eval()


def student(**kwargs):
    return MODELS.build(dict(type='DINOv2', arch=TINY_ARCH, out_indices=TAPS,
                             img_size=56, **kwargs)).eval()


def test_every_key_mapped_with_equal_shapes():
    """All official keys but ``mask_token`` map onto every ViT key once."""
    ref = official()
    converted = load_converter().convert(ref.state_dict())
    target = student().vit.state_dict()
    assert set(converted) == set(target)
    assert len(converted) == len(ref.state_dict()) - 1  # mask_token dropped
    for key, value in converted.items():
        assert value.shape == target[key].shape, key
    assert torch.equal(converted['layers.2.attn.gamma1.weight'],
                       ref.blocks[2].ls1.gamma)
    assert torch.equal(converted['layers.3.ffn.layers.1.weight'],
                       ref.blocks[3].mlp.fc2.weight)
    assert torch.equal(converted['ln1.bias'], ref.norm.bias)


@pytest.mark.parametrize('size', [(56, 56), (70, 84), (28, 42)])
def test_outputs_equal_official_get_intermediate_layers(size):
    """DINOv2 wrapper on converted weights == official
    ``get_intermediate_layers(x, taps, norm=True)`` reshaped to
    (B, C, H/14, W/14), at the stored grid (4x4) and at two others
    (position embedding resized by DINOv2's scale factor)."""
    ref = official()
    model = student()
    model.vit.load_state_dict(load_converter().convert(ref.state_dict()),
                              strict=True)
    height, width = size
    x = torch.randn(2, 3, height, width)
    with torch.no_grad():
        expected = ref.get_intermediate_layers(x, TAPS, norm=True)
        feats = model(x)
    assert len(feats) == len(TAPS)
    for feat, tokens in zip(feats, expected):
        assert tuple(feat.shape) == (2, 32, height // 14, width // 14)
        torch.testing.assert_close(
            feat, tokens_to_maps(tokens, height, width), rtol=1e-5,
            atol=1e-5)


def test_mmpretrain_interpolation_differs_off_grid():
    """With mmpretrain's resize-to-size the features match the official
    module at the stored grid only."""
    ref = official()
    model = student(pos_embed_interp='mmpretrain')
    model.vit.load_state_dict(load_converter().convert(ref.state_dict()))
    with torch.no_grad():
        same = model(torch.ones(1, 3, 56, 56))[-1]
        off = model(torch.ones(1, 3, 70, 84))[-1]
        ref_same = ref.get_intermediate_layers(torch.ones(1, 3, 56, 56),
                                               TAPS)[-1]
        ref_off = ref.get_intermediate_layers(torch.ones(1, 3, 70, 84),
                                              TAPS)[-1]
    torch.testing.assert_close(same, tokens_to_maps(ref_same, 56, 56),
                               rtol=1e-5, atol=1e-5)
    assert (off - tokens_to_maps(ref_off, 70, 84)).abs().max() > 1e-3


def test_chunked_and_module_prefixed_keys():
    """``blocks.C.N.`` (block_chunks > 0) and ``module.`` keys convert to
    the same tensors."""
    state = official().state_dict()
    chunked = {('module.' + k.replace('blocks.', 'blocks.0.', 1)
                if k.startswith('blocks.') else k): v
               for k, v in state.items()}
    convert = load_converter().convert
    plain, other = convert(state), convert(chunked)
    assert set(plain) == set(other)
    assert all(torch.equal(plain[k], other[k]) for k in plain)


def test_unknown_keys_raise_with_their_name():
    convert = load_converter().convert
    state = official().state_dict()
    with pytest.raises(KeyError, match="'register_tokens'"):
        convert({**state, 'register_tokens': torch.zeros(1, 4, 32)})
    with pytest.raises(KeyError, match="'blocks.0.mlp.w12.weight'"):
        convert({**state, 'blocks.0.mlp.w12.weight': torch.zeros(8, 32)})
    with pytest.raises(KeyError, match="'head.weight'"):
        convert({**state, 'head.weight': torch.zeros(2, 32)})


def test_cli_output_loads_through_init_cfg(tmp_path):
    """The script writes ``{'state_dict': {'backbone.<key>': ...}}``, which
    ``init_cfg=dict(type='Pretrained', prefix='backbone.')`` loads."""
    ref = official()
    src, dst = tmp_path / 'dinov2_tiny_pretrain.pth', tmp_path / 'out.pth'
    torch.save(ref.state_dict(), src)
    subprocess.run([sys.executable, SCRIPT, str(src), str(dst)], check=True,
                   capture_output=True)
    saved = torch.load(dst, map_location='cpu', weights_only=True)
    assert all(k.startswith('backbone.') for k in saved['state_dict'])
    model = student(init_cfg=dict(type='Pretrained', checkpoint=str(dst),
                                  prefix='backbone.'))
    model.init_weights()
    x = torch.randn(1, 3, 56, 56)
    with torch.no_grad():
        expected = ref.get_intermediate_layers(x, TAPS)
        feats = model.eval()(x)
    for feat, tokens in zip(feats, expected):
        torch.testing.assert_close(feat, tokens_to_maps(tokens, 56, 56),
                                   rtol=1e-5, atol=1e-5)


def test_dinov2_small_at_518_equals_official():
    """Full DINOv2-S (384-d, 12 blocks, 6 heads, 37x37 grid) on random
    weights: (1, 3, 518, 518) -> taps 2, 5, 8, 11 equal the official
    ``get_intermediate_layers(norm=True)``, each (1, 384, 37, 37)."""
    ref = randomize_(OfficialDinoViT(img_size=518, dim=384, depth=12,
                                     num_heads=6, mlp_ratio=4)).eval()
    model = MODELS.build(dict(type='DINOv2', arch='small')).eval()
    model.vit.load_state_dict(load_converter().convert(ref.state_dict()),
                              strict=True)
    # float64: at this width float32 rounding of the two attention
    # implementations alone reaches 1e-4.
    ref, model = ref.double(), model.double()
    x = torch.randn(1, 3, 518, 518, dtype=torch.float64)
    with torch.no_grad():
        expected = ref.get_intermediate_layers(x, (2, 5, 8, 11), norm=True)
        feats = model(x)
    for feat, tokens in zip(feats, expected):
        assert tuple(feat.shape) == (1, 384, 37, 37)
        torch.testing.assert_close(feat, tokens_to_maps(tokens, 518, 518),
                                   rtol=1e-7, atol=1e-7)

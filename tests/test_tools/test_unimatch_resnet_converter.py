import importlib.util
import os.path as osp

import pytest
import torch

from mmseg.models.backbones import ResNetV1c

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
spec = importlib.util.spec_from_file_location(
    'converter',
    osp.join(ROOT, 'tools/model_converters/unimatch_resnet_to_mmseg.py'))
converter = importlib.util.module_from_spec(spec)
spec.loader.exec_module(converter)


def _deep_stem_checkpoint(target):
    """A checkpoint named like UniMatch's ResNet (inverse of the mapping),
    with distinct values so misplaced tensors are detected."""
    inverse = {v: k for k, v in converter.STEM_KEYS.items()}
    ckpt = {}
    for i, (key, value) in enumerate(target.state_dict().items()):
        prefix, _, rest = key.rpartition('.')
        name = f'{inverse[prefix]}.{rest}' if prefix in inverse else key
        ckpt[name] = torch.full_like(value, i)
    ckpt['fc.weight'] = torch.zeros(10, 2048)
    return ckpt


def test_converted_weights_load_strictly_into_resnetv1c_128_stem():
    target = ResNetV1c(depth=50, stem_channels=128)
    ckpt = _deep_stem_checkpoint(target)
    assert 'conv1.6.weight' in ckpt and 'bn1.running_var' in ckpt
    converted = converter.convert(ckpt)
    target.load_state_dict(converted, strict=True)
    state = target.state_dict()
    for i, key in enumerate(state):
        assert torch.all(state[key] == i), key
    # stem conv 64->128 is the third conv of the deep stem
    assert converted['stem.6.weight'].shape == (128, 64, 3, 3)


def test_unknown_key_is_reported():
    with pytest.raises(KeyError, match='head.weight'):
        converter.convert({'head.weight': torch.zeros(1)})

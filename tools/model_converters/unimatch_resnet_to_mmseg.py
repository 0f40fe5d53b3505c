"""Convert the deep-stem ImageNet ResNet weights used by UniMatch, CorrMatch,
RankMatch and U2PL (``pretrained/resnet101.pth``) to mmseg's ``ResNetV1c``
with ``stem_channels=128``.

Their stem is ``conv1 = Sequential(conv 3-64, BN, ReLU, conv 64-64, BN, ReLU,
conv 64-128)`` followed by ``bn1``; mmseg's is ``stem = Sequential(conv, BN,
ReLU) x 3``. The residual stages have the same names. The ImageNet
classifier (``fc``) is dropped.

Usage::

    python tools/model_converters/unimatch_resnet_to_mmseg.py \
        pretrained/resnet101.pth data/pretrained/resnet101_deepstem_mmseg.pth
"""
import argparse
from collections import OrderedDict
from typing import Dict

import torch

STEM_KEYS = {'conv1.0': 'stem.0', 'conv1.1': 'stem.1', 'conv1.3': 'stem.3',
             'conv1.4': 'stem.4', 'conv1.6': 'stem.6', 'bn1': 'stem.7'}


def convert(state_dict: Dict[str, torch.Tensor]) -> 'OrderedDict':
    """Rename a deep-stem ResNet state dict to ``ResNetV1c`` keys.

    Raises:
        KeyError: for a key that belongs to neither the stem, the residual
            stages nor the classifier.
    """
    converted = OrderedDict()
    for key, value in state_dict.items():
        key = key[len('module.'):] if key.startswith('module.') else key
        if key.startswith('fc.'):
            continue
        prefix, _, rest = key.rpartition('.')
        if prefix in STEM_KEYS:
            converted[f'{STEM_KEYS[prefix]}.{rest}'] = value
        elif key.startswith(('layer1.', 'layer2.', 'layer3.', 'layer4.')):
            converted[key] = value
        else:
            raise KeyError(f'unexpected key {key!r} in a deep-stem ResNet '
                           'checkpoint')
    return converted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='UniMatch-style resnet checkpoint')
    parser.add_argument('dst', help='output mmseg backbone checkpoint')
    args = parser.parse_args()
    checkpoint = torch.load(args.src, map_location='cpu', weights_only=True)
    state_dict = checkpoint.get('state_dict', checkpoint)
    torch.save(dict(state_dict=convert(state_dict)), args.dst)
    print(f'saved {args.dst}')


if __name__ == '__main__':
    main()

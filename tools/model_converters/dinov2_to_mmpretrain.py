"""Convert the official DINOv2 weights (``dinov2_vit{s,b,l}14_pretrain.pth``,
facebookresearch/dinov2, also what UniMatch V2 loads) to mmpretrain's
``VisionTransformer`` layout, the layout of mmpretrain's published
``vit-{small,base,large}-p14_dinov2-pre_3rdparty`` checkpoints (keys under
``backbone.``), which mmsemi's ``DINOv2`` backbone loads with
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``.

Key map (official -> mmpretrain):
``patch_embed.proj`` -> ``patch_embed.projection``; ``blocks.N.norm1/norm2``
-> ``layers.N.ln1/ln2``; ``attn.qkv``, ``attn.proj`` unchanged;
``ls1.gamma`` -> ``attn.gamma1.weight``; ``mlp.fc1`` -> ``ffn.layers.0.0``;
``mlp.fc2`` -> ``ffn.layers.1``; ``ls2.gamma`` -> ``ffn.gamma2.weight``;
``norm`` -> ``ln1``; ``cls_token`` and ``pos_embed`` unchanged;
``mask_token`` (used only by DINOv2's masked pre-training) dropped.
Chunked checkpoints (``blocks.C.N.``) are accepted. Register tokens and the
SwiGLU MLP of ViT-g have no counterpart in mmpretrain's ViT and are rejected.

Usage::

    python tools/model_converters/dinov2_to_mmpretrain.py \\
        dinov2_vits14_pretrain.pth data/pretrained/dinov2_vits14_mmpretrain.pth
"""
import argparse
import re
from collections import OrderedDict
from typing import Dict

import torch

TOP_LEVEL = {
    'cls_token': 'cls_token',
    'pos_embed': 'pos_embed',
    'patch_embed.proj.weight': 'patch_embed.projection.weight',
    'patch_embed.proj.bias': 'patch_embed.projection.bias',
    'norm.weight': 'ln1.weight',
    'norm.bias': 'ln1.bias',
}
DROPPED = {'mask_token'}
BLOCK_PARTS = {
    'norm1.weight': 'ln1.weight',
    'norm1.bias': 'ln1.bias',
    'attn.qkv.weight': 'attn.qkv.weight',
    'attn.qkv.bias': 'attn.qkv.bias',
    'attn.proj.weight': 'attn.proj.weight',
    'attn.proj.bias': 'attn.proj.bias',
    'ls1.gamma': 'attn.gamma1.weight',
    'norm2.weight': 'ln2.weight',
    'norm2.bias': 'ln2.bias',
    'mlp.fc1.weight': 'ffn.layers.0.0.weight',
    'mlp.fc1.bias': 'ffn.layers.0.0.bias',
    'mlp.fc2.weight': 'ffn.layers.1.weight',
    'mlp.fc2.bias': 'ffn.layers.1.bias',
    'ls2.gamma': 'ffn.gamma2.weight',
}
# blocks.N.<part> or, in chunked checkpoints, blocks.C.N.<part>
BLOCK_KEY = re.compile(r'^blocks\.(?:\d+\.)?(\d+)\.(.+)$')


def convert(state_dict: Dict[str, torch.Tensor]) -> 'OrderedDict':
    """Rename an official DINOv2 ViT state dict to mmpretrain
    ``VisionTransformer`` keys (without the ``backbone.`` prefix).

    Raises:
        KeyError: naming the first key that has no mmpretrain counterpart
            (register tokens, SwiGLU MLPs, anything unknown).
    """
    converted = OrderedDict()
    for key, value in state_dict.items():
        key = key[len('module.'):] if key.startswith('module.') else key
        if key in DROPPED:
            continue
        if key in TOP_LEVEL:
            converted[TOP_LEVEL[key]] = value
            continue
        match = BLOCK_KEY.match(key)
        if match and match.group(2) in BLOCK_PARTS:
            index, part = match.groups()
            converted[f'layers.{index}.{BLOCK_PARTS[part]}'] = value
            continue
        if key == 'register_tokens':
            raise KeyError(f'{key!r}: DINOv2 models with register tokens '
                           'have no mmpretrain VisionTransformer counterpart')
        raise KeyError(f'unexpected key {key!r} in a DINOv2 checkpoint (no '
                       'mmpretrain VisionTransformer counterpart)')
    return converted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='official dinov2_vit*14_pretrain.pth')
    parser.add_argument('dst', help='output checkpoint (mmpretrain layout)')
    args = parser.parse_args()
    checkpoint = torch.load(args.src, map_location='cpu', weights_only=True)
    if 'state_dict' in checkpoint:
        checkpoint = checkpoint['state_dict']
    elif 'model' in checkpoint:
        checkpoint = checkpoint['model']
    converted = convert(checkpoint)
    state_dict = OrderedDict(
        (f'backbone.{key}', value) for key, value in converted.items())
    torch.save(dict(state_dict=state_dict), args.dst)
    print(f'saved {args.dst} ({len(state_dict)} tensors)')


if __name__ == '__main__':
    main()

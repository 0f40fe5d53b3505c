"""Tiny variants of stock mmseg segmentors (PSPNet, DeepLabV3, mmseg's
DeepLabV3+, UPerNet, SegFormer, and DANet and EncNet, whose heads return
several outputs) for tests: BN, no pretrained weights, channels small
enough for the CPU."""
import copy
from typing import Dict, List

NORM = dict(type='BN', requires_grad=True)
RESNET_CHANNELS = [8, 16, 32, 64]  # stride 4, 8, 8, 8 (output stride 8)
MIT_CHANNELS = [8, 16, 32, 64]  # stride 4, 8, 16, 32
CE = dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)

TINY_RESNET = dict(
    type='ResNetV1c', depth=18, stem_channels=16, base_channels=8,
    num_stages=4, out_indices=(0, 1, 2, 3), dilations=(1, 1, 2, 4),
    strides=(1, 2, 1, 1), norm_cfg=NORM, norm_eval=False,
    contract_dilation=True)
TINY_MIT = dict(
    type='MixVisionTransformer', in_channels=3, embed_dims=8, num_stages=4,
    num_layers=[1, 1, 1, 1], num_heads=[1, 2, 4, 8], patch_sizes=[7, 3, 3, 3],
    sr_ratios=[8, 4, 2, 1], out_indices=(0, 1, 2, 3), mlp_ratio=2,
    qkv_bias=True, drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.0)


def _head(type_: str, **kwargs) -> dict:
    return dict(type=type_, channels=16, dropout_ratio=0.1, norm_cfg=NORM,
                align_corners=False, loss_decode=copy.deepcopy(CE),
                **kwargs)


#: family -> (backbone, decode head, auxiliary head or None); the decode
#: heads are mmseg's, with mmseg's default align_corners=False.
FAMILIES: Dict[str, tuple] = {
    'pspnet': (TINY_RESNET,
               _head('PSPHead', in_channels=64, in_index=3,
                     pool_scales=(1, 2, 3, 6)),
               _head('FCNHead', in_channels=32, in_index=2, num_convs=1,
                     concat_input=False)),
    'deeplabv3': (TINY_RESNET,
                  _head('ASPPHead', in_channels=64, in_index=3,
                        dilations=(1, 2, 3, 4)), None),
    'deeplabv3plus': (TINY_RESNET,
                      _head('DepthwiseSeparableASPPHead', in_channels=64,
                            in_index=3, dilations=(1, 2, 3, 4),
                            c1_in_channels=8, c1_channels=8), None),
    'upernet': (TINY_RESNET,
                _head('UPerHead', in_channels=RESNET_CHANNELS,
                      in_index=[0, 1, 2, 3], pool_scales=(1, 2, 3, 6)),
                _head('FCNHead', in_channels=32, in_index=2, num_convs=1,
                      concat_input=False)),
    'segformer': (TINY_MIT,
                  _head('SegformerHead', in_channels=MIT_CHANNELS,
                        in_index=[0, 1, 2, 3]), None),
    # forward returns (pam_cam, pam, cam) logits
    'danet': (TINY_RESNET,
              _head('DAHead', in_channels=64, in_index=3, pam_channels=8),
              _head('FCNHead', in_channels=32, in_index=2, num_convs=1,
                    concat_input=False)),
    # forward returns (seg logits, SE logits (N, K))
    'encnet': (TINY_RESNET,
               _head('EncHead', in_channels=RESNET_CHANNELS[1:],
                     in_index=(1, 2, 3), num_codes=8, use_se_loss=True,
                     add_lateral=False,
                     loss_se_decode=dict(type='CrossEntropyLoss',
                                         use_sigmoid=True, loss_weight=0.2)),
               _head('FCNHead', in_channels=32, in_index=2, num_convs=1,
                     concat_input=False)),
}

#: Families whose decode head returns several outputs.
MULTI_OUTPUT = ('danet', 'encnet')

#: Backbone outputs each decode head reads, in the order it reads them.
CONSUMED: Dict[str, List[int]] = {
    'pspnet': [3],
    'deeplabv3': [3],
    'deeplabv3plus': [3, 0],
    'upernet': [0, 1, 2, 3],
    'segformer': [0, 1, 2, 3],
    'danet': [3],
    'encnet': [1, 2, 3],
}


def stock_segmentor_cfg(family: str, num_classes: int, data_preprocessor:
                        dict) -> dict:
    """An ``EncoderDecoder`` config of ``family`` with ``num_classes``."""
    backbone, head, aux = (copy.deepcopy(c) for c in FAMILIES[family])
    head['num_classes'] = num_classes
    cfg = dict(type='EncoderDecoder',
               data_preprocessor=copy.deepcopy(data_preprocessor),
               pretrained=None, backbone=backbone, decode_head=head,
               train_cfg=dict(), test_cfg=dict(mode='whole'))
    if aux is not None:
        aux['num_classes'] = num_classes
        aux['loss_decode']['loss_weight'] = 0.4
        cfg['auxiliary_head'] = aux
    return cfg

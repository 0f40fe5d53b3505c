# UniMatch V2's model: DINOv2 ViT-S/14 (mmpretrain's VisionTransformer
# through mmsemi's DINOv2 wrapper: blocks 2, 5, 8, 11 normalised by the
# final LayerNorm, class token dropped) and UniMatch V2's DPT head (no BN;
# features 64, projections 48/96/192/384). Inputs: multiples of 14.
# Weights: mmpretrain's conversion of the official dinov2_vits14_pretrain.pth
# (or convert the official file with
# tools/model_converters/dinov2_to_mmpretrain.py and point `checkpoint` at
# it). The number of classes comes from the dataset base.
_base_ = []
from mmsemi.models.backbones.dinov2 import dinov2_pretrained  # noqa: E402

data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='DINOv2',
        arch='small',
        init_cfg=dinov2_pretrained('small')),
    decode_head=dict(
        type='UniMatchV2DPTHead',
        arch='small',
        in_channels=384,
        num_classes=21,
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=1.0,
            avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

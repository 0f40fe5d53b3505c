# DeepLabV3+ as in CorrMatch: ResNet-101 with a deep stem (3-64-64-128),
# output stride 8 (strides (1, 2, 1, 1), dilations (1, 1, 2, 4) with the
# first block of each dilated stage at the previous dilation), plain ASPP
# (12, 24, 36), align_corners=True, no classifier dropout, no auxiliary
# head. CorrMatch's correlation branch is not part of the segmentor: the
# `CorrMatch` wrapper builds it (training only) from
# `semi_train_cfg.corr_head` on the last backbone stage.
# The ImageNet weights are UniMatch's `resnet101.pth` (deep stem; not the
# mmseg `open-mmlab://resnet101_v1c` weights, whose stem is 3-32-32-64),
# converted with `tools/model_converters/unimatch_resnet_to_mmseg.py`.
norm_cfg = dict(type='SyncBN', requires_grad=True)
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
    pretrained='data/pretrained/resnet101_deepstem_mmseg.pth',
    backbone=dict(
        type='ResNetV1c',
        depth=101,
        stem_channels=128,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True),
    decode_head=dict(
        type='SemiDeepLabV3PlusHead',
        in_channels=[256, 2048],
        in_index=(0, 3),
        channels=256,
        c1_channels=48,
        dilations=(1, 12, 24, 36),
        dropout_ratio=0.0,
        num_classes=21,
        norm_cfg=norm_cfg,
        align_corners=True,
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=1.0,
            avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

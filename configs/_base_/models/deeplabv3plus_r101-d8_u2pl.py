# DeepLabV3+ as in U2PL (spec §2): ResNet-101 with a deep stem
# (3-64-64-128), output stride 8 (strides (1, 2, 1, 1), dilations
# (1, 1, 2, 4), the first block of layer3 at dilation 1) and multi-grid
# (1, 2, 4) on layer4 (dilations 4, 8, 16); plain (not separable) ASPP
# (1x1, 12, 24, 36, image pooling); a 256-channel low-level branch (U2PL,
# not the usual 48); Dropout 0.1 before the classifier; align_corners=True.
# U2PL's representation head is not part of the segmentor: the `U2PL`
# wrapper attaches `semi_train_cfg.rep_head` (ProjectionHead, 256-d) to the
# student and the teacher.
# Known layout differences (configs/u2pl/README.md): the ASPP projection is
# mmsemi's 1x1 conv (official: 3x3 + Dropout2d 0.1) and the two fusion
# convs carry no dropout.
# The ImageNet weights are U2PL's `resnet101.pth` (deep stem) converted
# with `tools/model_converters/unimatch_resnet_to_mmseg.py`; mmseg's
# `open-mmlab://resnet101_v1c` (stem 3-32-32-64) is a different model.
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
        multi_grid=(1, 2, 4),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True),
    decode_head=dict(
        type='SemiDeepLabV3PlusHead',
        in_channels=[256, 2048],
        in_index=(0, 3),
        channels=256,
        c1_channels=256,
        dilations=(1, 12, 24, 36),
        separable=False,
        dropout_ratio=0.1,
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

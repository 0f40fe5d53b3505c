# A slim DeepLabV3+ for the embedded demo on CPU: ResNet-18 (deep stem) with
# a quarter of the channels, output stride 8, the UniMatch-style head with
# small dilations for 10x10 feature maps, plain BN; the backbone starts from
# the shipped stand-in weights.
norm_cfg = dict(type='BN', requires_grad=True)
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
    pretrained=None,
    backbone=dict(
        type='ResNetV1c',
        depth=18,
        stem_channels=32,
        base_channels=16,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True,
        # The stand-in for ImageNet weights: this backbone pretrained on 12
        # shapes that are not ToyShapes classes (shipped with mmsemi, see
        # tools/misc/pretrain_standin_backbone.py).
        init_cfg=dict(
            type='Pretrained',
            checkpoint='mmsemi://standin_r18s_shapes12.pth')),
    decode_head=dict(
        type='SemiDeepLabV3PlusHead',
        in_channels=[16, 128],
        in_index=(0, 3),
        channels=64,
        c1_channels=16,
        dilations=(1, 2, 4, 6),
        dropout_ratio=0.0,
        num_classes=7,
        norm_cfg=norm_cfg,
        align_corners=True,
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=1.0,
            avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

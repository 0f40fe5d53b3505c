# A tiny ViT + UniMatch V2's DPT head for the embedded demo on CPU: the
# stand-in for DINOv2 + DPT. The encoder is mmsemi's DINOv2 wrapper around
# mmpretrain's VisionTransformer with a custom arch (64-d, 6 blocks, 2
# heads, MLP 256, layer scale, patch 8: a 10x10 grid on the 80-px crops,
# the ResNet stand-in's output stride) tapping blocks 1, 2, 4, 5 (every
# tap normalised by the final LayerNorm, class token dropped, as
# UniMatch V2 reads DINOv2); position embedding stored for 64 px (the
# pretraining size) and resized DINOv2's way for other sizes. The head is
# UniMatch V2's DPT (no BN) at DINOv2-S's widths scaled by 64/384 (fused
# 16, projections 8/16/32/64 instead of 64 and 48/96/192/384). The encoder
# starts from the shipped stand-in weights (12 shapes that are not
# ToyShapes classes, tools/misc/pretrain_standin_backbone.py).
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
        type='DINOv2',
        arch=dict(embed_dims=64, num_layers=6, num_heads=2,
                  feedforward_channels=256),
        out_indices=(1, 2, 4, 5),
        img_size=64,
        patch_size=8,
        layer_scale_init_value=1.0,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='mmsemi://standin_vit-t-p8_shapes12.pth',
            prefix='vit.')),
    decode_head=dict(
        type='UniMatchV2DPTHead',
        in_channels=64,
        channels=16,
        post_process_channels=[8, 16, 32, 64],
        num_classes=7,
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=1.0,
            avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

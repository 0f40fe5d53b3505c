_base_ = ['./deeplabv3plus_r101-d8_u2pl.py']
# U2PL's DeepLabV3+ for Cityscapes: 19 classes; OHEM (prob 0.7, min_kept
# 100,000 per 2-image GPU batch, i.e. 50,000 per image in mmseg's per-image
# OHEMPixelSampler) on the main and the auxiliary output; auxiliary FCN head
# on layer3 (3x3 conv 1024->256 + BN + ReLU + Dropout 0.1 + 1x1), weight
# 0.4; sliding-window test with 769 crops and stride ceil(2/3 * 769) = 513.
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    decode_head=dict(
        num_classes=19,
        sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=50000)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=1024,
        in_index=2,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=True,
        sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=50000),
        loss_decode=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=0.4,
            avg_non_ignore=True)),
    test_cfg=dict(mode='slide', crop_size=(769, 769), stride=(513, 513)))

_base_ = ['./deeplabv3plus_r101-d8_css.py']
# CSS's DeepLabV3+ for Cityscapes: 19 classes, OHEM (prob 0.7, min_kept
# 50,000 per image, i.e. 200,000 per 4-image GPU batch as the official
# code); no auxiliary head. The official code validates on one random 769
# crop per image; mmsemi uses the sliding window the paper reports.
model = dict(
    decode_head=dict(
        num_classes=19,
        sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=50000)),
    test_cfg=dict(mode='slide', crop_size=(769, 769), stride=(513, 513)))

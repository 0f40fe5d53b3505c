_base_ = ['./deeplabv3plus_r101-d8_corrmatch.py']
# CorrMatch's DeepLabV3+ for Cityscapes: 19 classes; OHEM on both
# supervised terms (CorrMatch: prob 0.7, min_kept 100,000 per 2-image
# batch, i.e. 50,000 per image in mmseg's per-image OHEMPixelSampler);
# sliding-window test with 801 crops and stride int(2/3 * 801) = 534.
model = dict(
    decode_head=dict(
        num_classes=19,
        sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=50000)),
    test_cfg=dict(mode='slide', crop_size=(801, 801), stride=(534, 534)))

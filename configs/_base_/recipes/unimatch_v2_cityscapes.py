# UniMatch V2's official recipe on Cityscapes: OHEM on the supervised term
# (prob 0.7, min_kept 200,000 per 2-image batch, i.e. 100,000 per image in
# mmseg's per-image OHEMPixelSampler), sliding-window test with 798 crops
# and stride int(2/3 * 798) = 532; lr for 4 GPUs x (2 + 2) = 16 images.
_base_ = ['./unimatch_v2_voc12.py']
semi_segmentor = dict(
    decode_head=dict(
        sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=100000)),
    test_cfg=dict(mode='slide', crop_size=(798, 798), stride=(532, 532)))
semi_auto_scale_lr = dict(base_batch_size=16)

# UniMatch's official recipe on Cityscapes: the VOC recipe with confidence
# threshold 0 and lr 5e-3 on every parameter (no head multiplier). The
# official OHEM supervised loss belongs to the segmentor.
_base_ = ['./unimatch_voc12.py']
semi_model = dict(semi_train_cfg=dict(conf_thresh=0.0))
semi_optim_wrapper = dict(
    optimizer=dict(lr=0.005),
    paramwise_cfg=dict(custom_keys={
        'decode_head': dict(lr_mult=1.0),
        'auxiliary_head': dict(lr_mult=1.0)
    }))

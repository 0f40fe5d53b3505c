# CorrMatch's official recipe on Cityscapes: fixed threshold 0, lr 5e-3 on
# every parameter (no head multiplier); the rest as on VOC.
_base_ = ['./corrmatch_voc12.py']
semi_model = dict(semi_train_cfg=dict(conf_thresh=0.0))
semi_optim_wrapper = dict(
    optimizer=dict(lr=0.005),
    paramwise_cfg=dict(custom_keys={
        'decode_head': dict(lr_mult=1.0),
        'auxiliary_head': dict(lr_mult=1.0),
        'corr_head': dict(lr_mult=1.0)
    }))

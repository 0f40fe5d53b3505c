# CorrMatch's official recipe on Pascal VOC 2012, the one source for
# configs/corrmatch and configs/stock. semi_train_cfg: the code default
# (CorrMatch.default_train_cfg: dynamic threshold from 0.85 with momentum
# 0.999, correlation branch on the last backbone stage, 128 sampled shapes,
# one strong view) is the VOC recipe. SGD lr 1e-3 on the backbone and 10x on
# the heads and the correlation branch, momentum 0.9, weight decay 1e-4,
# poly 0.9 per iteration; lr for 16 images per iteration (4 GPUs x (2 + 2),
# or 2 GPUs x (4 + 4) at crop 321).
_base_ = ['./unimatch_voc12.py']
semi_model = dict(type='CorrMatch')
semi_optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'corr_head': dict(lr_mult=10.0)}))
semi_custom_hooks = [dict(type='DynamicThresholdHook')]

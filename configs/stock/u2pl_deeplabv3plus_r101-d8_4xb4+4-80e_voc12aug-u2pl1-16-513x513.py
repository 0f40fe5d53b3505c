# U2PL wrapping mmseg's DeepLabV3+ (DepthwiseSeparableASPPHead + FCN auxiliary
# head), ResNet-101-D8, on Pascal VOC 2012 aug, U2PL's blended split 1/16, crop
# 513; the method's official recipe
# (configs/_base_/semi/semi_u2pl_voc12aug.py), the stock model, validation and
# test settings.
_base_ = [
    'mmseg::deeplabv3plus/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512.py',
    'mmsemi::_base_/semi/semi_u2pl_voc12aug.py',
]
# The stock segmentor; training batches are padded to the method's crop.
segmentor = dict(_base_.model, data_preprocessor=dict(
    _base_.model.data_preprocessor, size=_base_.semi_crop_size))
model = dict(_base_.semi_model, _delete_=True, segmentor=segmentor)
train_dataloader = dict(_base_.semi_train_dataloader, _delete_=True)
auto_scale_lr = _base_.semi_auto_scale_lr
train_cfg = dict(_base_.semi_train_loop, _delete_=True)
optim_wrapper = dict(_base_.semi_optim_wrapper, _delete_=True)
param_scheduler = _base_.semi_param_scheduler
custom_hooks = _base_.semi_custom_hooks
# mmsemi's label check, NaN guard and pseudo-label pictures, merged into
# the stock default_hooks.
default_hooks = _base_.semi_default_hooks

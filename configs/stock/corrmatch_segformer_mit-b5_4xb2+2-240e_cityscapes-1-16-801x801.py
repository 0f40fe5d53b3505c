# CorrMatch wrapping mmseg's SegFormer (SegformerHead), MiT-B5, on Cityscapes,
# split 1/16, crop 801; the method's thresholds, losses, batch, crop and length
# (configs/_base_/semi/semi_corrmatch_cityscapes.py), the stock model,
# validation and test settings. SegFormer keeps its stock optimiser (AdamW, lr
# 6e-5, 10x on the heads) and warm-up: the methods' SGD recipe is for ResNets.
_base_ = [
    'mmseg::segformer/segformer_mit-b5_8xb1-160k_cityscapes-1024x1024.py',
    'mmsemi::_base_/semi/semi_corrmatch_cityscapes.py',
]
# The stock segmentor; training batches are padded to the method's crop.
segmentor = dict(_base_.model, data_preprocessor=dict(
    _base_.model.data_preprocessor, size=_base_.semi_crop_size))
model = dict(_base_.semi_model, _delete_=True, segmentor=segmentor)
train_dataloader = dict(_base_.semi_train_dataloader, _delete_=True)
auto_scale_lr = _base_.semi_auto_scale_lr
train_cfg = dict(_base_.semi_train_loop, _delete_=True)
# The stock warm-up, then its poly decay to the end of training (without
# `end`, mmengine's Runner ends it at train_cfg.max_iters).
param_scheduler = [
    _base_.param_scheduler[0],
    {k: v for k, v in _base_.param_scheduler[1].items() if k != 'end'}
]
custom_hooks = _base_.semi_custom_hooks
# mmsemi's label check, NaN guard and pseudo-label pictures, merged into
# the stock default_hooks.
default_hooks = _base_.semi_default_hooks

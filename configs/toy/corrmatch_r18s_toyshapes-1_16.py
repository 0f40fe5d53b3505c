# CorrMatch on the embedded demo: the slim DeepLabV3+ with 4 labeled + 4
# unlabeled ToyShapes images per iteration on the 1/16 split, one strong
# view, the correlation branch on the last backbone stage (10x10 at crop 80)
# with 64 channels, dynamic threshold (init 0.85, momentum 0.999).
_base_ = [
    '../_base_/models/deeplabv3plus_r18s-d8_toy.py',
    '../_base_/datasets/semi_toyshapes_80x80.py',
    '../_base_/schedules/semi_sgd_poly.py',
    '../_base_/toy_runtime.py',
]
from mmsemi.datasets.semi_pipelines import semi_train_data  # noqa: E402

data_preprocessor = dict(_base_.data_preprocessor, size=_base_.crop_size)
segmentor = dict(_base_.model, data_preprocessor=data_preprocessor)
model = dict(
    _delete_=True,
    type='CorrMatch',
    segmentor=segmentor,
    data_preprocessor=dict(type='MultiBranchSegDataPreprocessor',
                           data_preprocessor=data_preprocessor),
    semi_train_cfg=dict(corr_head=dict(channels=64, dropout_ratio=0.1)))
# One strong view.
globals().update(semi_train_data(
    _base_, branch_field=['sup', 'unsup_weak', 'unsup_strong1']))
# Fine-tuned from the stand-in backbone: backbone lr 0.005, 10x on the
# heads (correlation branch included), the official recipe's ratio.
optim_wrapper = dict(
    optimizer=dict(lr=0.005),
    paramwise_cfg=dict(custom_keys={
        'decode_head': dict(lr_mult=10.0),
        'corr_head': dict(lr_mult=10.0)
    }))
train_cfg = dict(max_iters=200, val_interval=200)
custom_hooks = [dict(type='DynamicThresholdHook')]

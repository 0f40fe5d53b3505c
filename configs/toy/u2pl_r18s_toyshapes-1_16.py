# U2PL on the embedded demo: the slim DeepLabV3+ with 4 labeled + 4
# unlabeled ToyShapes images per iteration on the 1/16 split, a 64-d
# representation head, small category queues, 20 supervised-only warm-up
# iterations, then the EMA teacher (parameters only, ramped decay to 0.99)
# from the end of the warm-up. The drop rate decays continuously
# (iters_per_epoch=1) over train_cfg.max_iters.
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
    type='U2PL',
    segmentor=segmentor,
    data_preprocessor=dict(type='MultiBranchSegDataPreprocessor',
                           data_preprocessor=data_preprocessor),
    semi_train_cfg=dict(
        iters_per_epoch=1,
        sup_only_iters=20,
        rep_head=dict(type='ProjectionHead', channels=64, out_channels=64,
                      dropout_ratio=0.1),
        contrast=dict(
            queue_length=2000,
            num_queries=64,
            num_negatives=16,
            temperature=0.5,
            low_rank=3,
            high_rank=20,
            low_entropy_threshold=20)),
    semi_test_cfg=dict(predict_on='teacher'))
globals().update(semi_train_data(
    _base_, branch_field=['sup', 'unsup_weak']))
# Fine-tuned from the stand-in backbone: backbone lr 0.005, 10x on the
# heads (representation head included), the official recipe's ratio.
optim_wrapper = dict(
    optimizer=dict(lr=0.005),
    paramwise_cfg=dict(custom_keys={
        'decode_head': dict(lr_mult=10.0),
        'rep_head': dict(lr_mult=10.0)
    }))
train_cfg = dict(max_iters=200, val_interval=200)
custom_hooks = [
    dict(type='EMATeacherHook', momentum=0.01, ramp_up=True,
         update_buffers=False)
]

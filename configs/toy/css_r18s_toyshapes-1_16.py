# CSS (mix) on the embedded demo: the slim DeepLabV3+ with 4 labeled + 4
# unlabeled ToyShapes images per iteration on the 1/16 split, a 64-d
# representation head on the decoder's fusion input, EMA prototypes, the
# EMA teacher (parameters only, ramped decay to 0.99) and the joint strong
# augmentation (rescale/crop, CutMix, flip) applied in the model.
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
    type='CSS',
    segmentor=segmentor,
    data_preprocessor=dict(type='MultiBranchSegDataPreprocessor',
                           data_preprocessor=data_preprocessor),
    # The code defaults (CSS.default_train_cfg) but for the smaller heads;
    # lambda_c = exp(-5 (e / 200)^2) over labeled epochs e of the run's
    # labeled loader (the 1/16 split: 125 labeled images, 4 per iteration,
    # 31 iterations).
    semi_train_cfg=dict(
        rep_head=dict(type='ProjectionHead', channels=64, out_channels=64,
                      dropout_ratio=0.0),
        contrast=dict(
            num_anchors=64,
            num_negatives=64,
            temperature=0.5,
            hard_threshold=0.8,
            # working tilt: hard anchors by the indicator at temperature
            # 0.1 (official 0.5 never selects, see configs/css/README.md)
            tilt='sharp',
            tilt_temperature=0.1,
            momentum=0.99)),
    semi_test_cfg=dict(predict_on='teacher'))
# Official photometric strong view (ColorJitter 0.25 with p = 0.8, blur
# with p = 0.5), pixel-aligned with the weak view; the model adds the
# geometry.
strong_pipeline = [
    dict(type='StrongColorJitter', brightness=0.25, contrast=0.25,
         saturation=0.25, hue=0.25, prob=0.8),
    dict(type='StrongGaussianBlur', sigma=(0.15, 1.15), prob=0.5),
    dict(type='PackSemiSegInputs'),
]
globals().update(semi_train_data(
    _base_, branch_field=['sup', 'unsup_weak', 'unsup_strong'],
    strong_pipeline=strong_pipeline))
# Fine-tuned from the stand-in backbone: backbone lr 0.005, 10x on the
# heads (representation head included), as the other toy configs.
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

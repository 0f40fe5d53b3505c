# RankMatch on the embedded demo: the slim DeepLabV3+ with 4 labeled + 4
# unlabeled ToyShapes images per iteration on the 1/16 split (UniMatch's
# toy setting plus the rank loss). Agents come from the ASPP output, 10x10
# at crop 80 (output stride 8): 32 of its 100 pixels (the paper's 128 of
# 441 at crop 321 is a similar share). (80 - 1) / (10 - 1) is not an
# integer, so the teacher features are CutMix-ed by the exact bilinear
# up-mix-down (mix_features), not the strided form.
_base_ = [
    '../_base_/models/deeplabv3plus_r18s-d8_toy.py',
    '../_base_/datasets/semi_toyshapes_80x80.py',
    '../_base_/schedules/semi_sgd_poly.py',
    '../_base_/semi_default_runtime.py',
]
data_preprocessor = dict(_base_.data_preprocessor, size=_base_.crop_size)
segmentor = dict(_base_.model, data_preprocessor=data_preprocessor)
model = dict(
    _delete_=True,
    type='RankMatch',
    segmentor=segmentor,
    data_preprocessor=dict(type='MultiBranchSegDataPreprocessor',
                           data_preprocessor=data_preprocessor),
    semi_train_cfg=dict(
        conf_thresh=0.95,
        rank_loss=dict(type='RankAwareKLLoss', num_agents=32, topk=4,
                       reduction='official', loss_weight=0.1)))
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_dataset, split_file='splits/1_16/labeled.txt'),
    dict(_base_.unlabeled_dataset, split_file='splits/1_16/unlabeled.txt'),
]))
max_iters = 200
val_interval = 200
# Fine-tuned from the stand-in backbone: backbone lr 0.005, 10x on the
# decode head (the base schedule's ratio).
optim_wrapper = dict(optimizer=dict(lr=0.005))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=val_interval, save_best=None),
    visualization=dict(type='SegVisualizationHook', draw=False),
    pseudo_labels=dict(enabled=True, interval=100))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)

# RankMatch, ResNet-101, VOC classic split 1464, crop 513x513.
# 80 epochs over the 9118 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 1140 iterations per epoch, 91200 in total.
_base_ = [
    '../_base_/models/deeplabv3plus_r101-d16_unimatch.py',
    '../_base_/datasets/semi_voc12_513x513.py',
    '../_base_/schedules/semi_sgd_poly.py',
    '../_base_/semi_default_runtime.py',
]
data_preprocessor = dict(_base_.data_preprocessor, size=_base_.crop_size)
segmentor = dict(_base_.model, data_preprocessor=data_preprocessor)
# The rank loss: 128 orthogonal agents (the paper's value), top-4 orderings,
# lambda 0.1 averaged over the two strong views, official reduction.
model = dict(
    _delete_=True,
    type='RankMatch',
    segmentor=segmentor,
    data_preprocessor=dict(type='MultiBranchSegDataPreprocessor',
                           data_preprocessor=data_preprocessor),
    semi_train_cfg=dict(
        conf_thresh=0.95,
        rank_loss=dict(type='RankAwareKLLoss', num_agents=128, topk=4,
                       reduction='official', loss_weight=0.1)),
    semi_test_cfg=dict(predict_on='student'))
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_dataset,
         split_file='../../splits/pascal/1464/labeled.txt'),
    dict(_base_.unlabeled_dataset,
         split_file='../../splits/pascal/1464/unlabeled.txt'),
]))
max_iters = 91200
val_interval = 5700
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))

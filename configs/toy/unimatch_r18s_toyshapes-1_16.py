# UniMatch on the embedded demo: the slim DeepLabV3+ with 4 labeled + 4
# unlabeled ToyShapes images per iteration on the 1/16 split.
_base_ = [
    '../_base_/models/deeplabv3plus_r18s-d8_toy.py',
    '../_base_/datasets/semi_toyshapes_80x80.py',
    '../_base_/schedules/semi_sgd_poly.py',
    '../_base_/toy_runtime.py',
]
data_preprocessor = dict(_base_.data_preprocessor, size=_base_.crop_size)
segmentor = dict(_base_.model, data_preprocessor=data_preprocessor)
model = dict(
    _delete_=True,
    type='UniMatch',
    segmentor=segmentor,
    data_preprocessor=dict(type='MultiBranchSegDataPreprocessor',
                           data_preprocessor=data_preprocessor))
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_dataset, split_file='splits/1_16/labeled.txt'),
    dict(_base_.unlabeled_dataset, split_file='splits/1_16/unlabeled.txt'),
]))
# Fine-tuned from the stand-in backbone: backbone lr 0.005, 10x on the
# decode head (the base schedule's ratio).
optim_wrapper = dict(optimizer=dict(lr=0.005))
train_cfg = dict(max_iters=200, val_interval=200)

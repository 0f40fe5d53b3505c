# UniMatch V2 on the embedded demo: the tiny ViT stand-in + UniMatch V2's
# DPT head with 4 labeled + 4 unlabeled ToyShapes images per iteration on
# the 1/16 split; UniMatch V2's recipe (EMA teacher, two CutMix-ed strong
# views with complementary channel dropout, threshold 0.95, student and
# teacher evaluated) and the ViT arms' optimisation.
_base_ = [
    '../_base_/models/vit-t-p8_dpt_toy.py',
    '../_base_/datasets/semi_toyshapes_80x80.py',
    '../_base_/schedules/toy_vit_adamw.py',
    '../_base_/toy_runtime.py',
]
from mmsemi.utils.semi_config import semi_method  # noqa: E402

globals().update(semi_method(_base_))
optim_wrapper = dict(_base_.optim_wrapper, _delete_=True)
# The demo's lr is for its own batch (the dataset base's), not the recipe's.
auto_scale_lr = _base_.auto_scale_lr
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_dataset, split_file='splits/1_16/labeled.txt'),
    dict(_base_.unlabeled_dataset, split_file='splits/1_16/unlabeled.txt'),
]))
train_cfg = dict(max_iters=200, val_interval=200)

# U2PL on Pascal VOC 2012 aug (mmseg layout), U2PL's blended split 1/16
# (662 labeled, 9,920 unlabeled), crop 513, no photometric strong view (the
# strong perturbation is the model's CutMix),
# for configs that inherit a full stock mmseg config (see
# configs/stock/README.md; keys start with `semi_`): the recipe of
# ../recipes/u2pl_voc12.py with this split's data, batch and length,
# 80 epochs = 80 x 620 = 49,600 iterations (4 GPUs x (4 + 4)).
_base_ = ['./semi_data_voc12aug.py', '../recipes/u2pl_voc12.py']
from mmsemi.datasets.semi_pipelines import stock_semi_train_data  # noqa: E402

globals().update(stock_semi_train_data(
    _base_, split='u2pl_1_16', crop_size=(513, 513),
    branch_field=['sup', 'unsup_weak'], batch_size=8))
semi_max_iters = 49600
semi_val_interval = 3100
semi_train_loop = dict(type='SemiIterBasedTrainLoop',
                       max_iters=semi_max_iters,
                       val_interval=semi_val_interval)

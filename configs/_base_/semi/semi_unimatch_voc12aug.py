# UniMatch on Pascal VOC 2012 aug (mmseg layout), blended split 1/16 (662
# labeled, 9,920 unlabeled), crop 513,
# for configs that inherit a full stock mmseg config (see
# configs/stock/README.md; keys start with `semi_`): the recipe of
# ../recipes/unimatch_voc12.py with this split's data, batch and length,
# 80 epochs = 80 x 1,240 = 99,200 iterations (4 GPUs x (2 + 2)).
_base_ = ['./semi_data_voc12aug.py', '../recipes/unimatch_voc12.py']
from mmsemi.datasets.semi_pipelines import stock_semi_train_data  # noqa: E402

globals().update(stock_semi_train_data(
    _base_, split='1_16', crop_size=(513, 513),
    branch_field=['sup', 'unsup_weak', 'unsup_strong1', 'unsup_strong2'],
    batch_size=4))
semi_max_iters = 99200
semi_val_interval = 6200
semi_train_loop = dict(type='SemiIterBasedTrainLoop',
                       max_iters=semi_max_iters,
                       val_interval=semi_val_interval)

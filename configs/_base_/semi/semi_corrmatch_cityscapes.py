# CorrMatch on Cityscapes (mmseg layout), split 1/16 (186 labeled, 2,789
# unlabeled), crop 801, one strong view,
# for configs that inherit a full stock mmseg config (see
# configs/stock/README.md; keys start with `semi_`): the recipe of
# ../recipes/corrmatch_cityscapes.py with this split's data, batch and length,
# 240 epochs = 240 x 349 = 83,760 iterations (4 GPUs x (2 + 2)).
_base_ = ['./semi_data_cityscapes.py', '../recipes/corrmatch_cityscapes.py']
from mmsemi.datasets.semi_pipelines import stock_semi_train_data  # noqa: E402

globals().update(stock_semi_train_data(
    _base_, split='cityscapes/1_16', crop_size=(801, 801),
    branch_field=['sup', 'unsup_weak', 'unsup_strong1'], batch_size=4))
semi_max_iters = 83760
semi_val_interval = 6980
semi_train_loop = dict(type='SemiIterBasedTrainLoop',
                       max_iters=semi_max_iters,
                       val_interval=semi_val_interval)

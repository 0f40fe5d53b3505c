# U2PL on Cityscapes (mmseg layout), U2PL's split 1/16 (186 labeled, 2,789
# unlabeled), crop 769, no photometric strong view,
# for configs that inherit a full stock mmseg config (see
# configs/stock/README.md; keys start with `semi_`): the recipe of
# ../recipes/u2pl_cityscapes.py with this split's data, batch and length,
# 200 epochs = 200 x 174 = 34,800 iterations (8 GPUs x (2 + 2)).
_base_ = ['./semi_data_cityscapes.py', '../recipes/u2pl_cityscapes.py']
from mmsemi.datasets.semi_pipelines import stock_semi_train_data  # noqa: E402

globals().update(stock_semi_train_data(
    _base_, split='cityscapes_u2pl/186', crop_size=(769, 769),
    branch_field=['sup', 'unsup_weak'], batch_size=4))
semi_max_iters = 34800
semi_val_interval = 1740
semi_train_loop = dict(type='SemiIterBasedTrainLoop',
                       max_iters=semi_max_iters,
                       val_interval=semi_val_interval)

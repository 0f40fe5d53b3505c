# CSS (mix) on Cityscapes (mmseg layout), U2PL's split 1/16 (186 labeled,
# 2,789 unlabeled), crop 769, for configs that inherit a full stock mmseg
# config (see configs/stock/README.md; keys start with `semi_`). The recipe
# of ../recipes/css_cityscapes.py with the Cityscapes data of the official
# code: 4 GPUs x (4 labeled + 4 unlabeled), labeled crops without
# rescaling, lambda_c over labeled epochs of floor(ceil(186 / 4) / 4) = 11
# iterations. The official OHEM loss belongs to the segmentor and is left
# to the stock config.
_base_ = ['./semi_data_cityscapes.py', '../recipes/css_cityscapes.py']
from mmsemi.datasets.semi_pipelines import stock_semi_train_data  # noqa: E402

globals().update(stock_semi_train_data(
    _base_, split='cityscapes_u2pl/186', crop_size=(769, 769),
    branch_field=None, batch_size=8, css=True))
semi_max_iters = 80000
semi_val_interval = 4000
semi_train_loop = dict(type='SemiIterBasedTrainLoop',
                       max_iters=semi_max_iters,
                       val_interval=semi_val_interval)

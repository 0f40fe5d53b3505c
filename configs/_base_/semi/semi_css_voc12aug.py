# CSS (mix) on Pascal VOC 2012 aug (mmseg layout), U2PL's blended split 1/16
# (662 labeled, 9,920 unlabeled), crop 513, for configs that inherit a full
# stock mmseg config (see configs/stock/README.md; keys start with `semi_`).
# The recipe of ../recipes/css_voc12.py (lambda_c's epoch is the run's
# labeled epoch, floor(ceil(662 / 4) / 8) = 20 iterations here) with this
# split's data: 4 GPUs x (8 labeled + 8 unlabeled), 80,000 iterations, the
# official photometric strong view (the model adds the geometry), labeled
# images rescaled in [0.5, 1.5].
_base_ = ['./semi_data_voc12aug.py', '../recipes/css_voc12.py']
from mmsemi.datasets.semi_pipelines import stock_semi_train_data  # noqa: E402

globals().update(stock_semi_train_data(
    _base_, split='u2pl_1_16', crop_size=(513, 513), branch_field=None,
    batch_size=16, css=True, css_labeled_scale=(0.5, 1.5)))
semi_max_iters = 80000
semi_val_interval = 4000
semi_train_loop = dict(type='SemiIterBasedTrainLoop',
                       max_iters=semi_max_iters,
                       val_interval=semi_val_interval)

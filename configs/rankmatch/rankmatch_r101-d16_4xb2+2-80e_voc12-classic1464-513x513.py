# RankMatch, ResNet-101, VOC classic split 1464, crop 513x513.
# 80 epochs over the 9118 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 1140 iterations per epoch, 91200 in total.
# UniMatch's crop-513 VOC config with the classic split.
_base_ = ['../unimatch/'
          'unimatch_r101-d16_4xb2+2-80e_voc12-blended1-16-513x513.py']
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

# UniMatch's recipe plus the rank loss, whose hyper-parameters are the code
# defaults (RankMatch.default_train_cfg, the paper's: 128 orthogonal agents,
# top-4 orderings, lambda 0.1 averaged over the two strong views, the
# official probability-space Plackett-Luce with eps 1e-10; see README.md).
model = dict(type='RankMatch')
train_dataloader = split_train_dataloader(_base_, '../../splits/pascal/1464')
train_cfg = dict(max_iters=91200, val_interval=5700)
default_hooks = dict(checkpoint=dict(interval=5700))

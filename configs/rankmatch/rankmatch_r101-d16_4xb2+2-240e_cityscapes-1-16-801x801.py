# RankMatch, ResNet-101, Cityscapes split 1_16, crop 801x801; data,
# OHEM, threshold 0, schedule and length of the UniMatch config.
_base_ = ['../unimatch/'
          'unimatch_r101-d16_4xb2+2-240e_cityscapes-1-16-801x801.py']
# UniMatch's recipe plus the rank loss, whose hyper-parameters are the code
# defaults (RankMatch.default_train_cfg, the paper's: 128 orthogonal agents,
# top-4 orderings, lambda 0.1 averaged over the two strong views, the
# official probability-space Plackett-Luce with eps 1e-10; see README.md).
model = dict(type='RankMatch')

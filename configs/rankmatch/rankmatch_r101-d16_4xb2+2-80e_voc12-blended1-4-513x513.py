# RankMatch, ResNet-101, VOC blended split 1_4, crop 513x513; data,
# schedule and length of the UniMatch config.
_base_ = ['../unimatch/'
          'unimatch_r101-d16_4xb2+2-80e_voc12-blended1-4-513x513.py']
# UniMatch's recipe plus the rank loss, whose hyper-parameters are the code
# defaults (RankMatch.default_train_cfg, the paper's: 128 orthogonal agents,
# top-4 orderings, lambda 0.1 averaged over the two strong views, the
# official probability-space Plackett-Luce with eps 1e-10; see README.md).
model = dict(type='RankMatch')

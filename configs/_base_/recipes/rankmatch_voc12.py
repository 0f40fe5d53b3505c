# RankMatch's official recipe on Pascal VOC 2012 (UniMatch's optimisation),
# the one source for configs/rankmatch and configs/stock. semi_train_cfg:
# the code default (RankMatch.default_train_cfg: threshold 0.95, 128 agents,
# rank-aware KL with weight 0.1) is the VOC recipe.
_base_ = ['./unimatch_voc12.py']
semi_model = dict(type='RankMatch')

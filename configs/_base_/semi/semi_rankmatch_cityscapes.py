# RankMatch on Cityscapes (mmseg layout), split 1/16 (186 labeled, 2,789
# unlabeled), crop 801,
# for configs that inherit a full stock mmseg config (see
# configs/stock/README.md; keys start with `semi_`): UniMatch's recipe
# (../recipes/unimatch_cityscapes.py), data, batch and length
# (semi_unimatch_cityscapes.py) with RankMatch's loss, whose hyper-parameters
# (128 agents, top-4 orderings, weight 0.1) are the code defaults
# (RankMatch.default_train_cfg).
_base_ = ['./semi_unimatch_cityscapes.py']
semi_model = dict(type='RankMatch')

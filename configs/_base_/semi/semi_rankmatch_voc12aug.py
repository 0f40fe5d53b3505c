# RankMatch on Pascal VOC 2012 aug (mmseg layout), blended split 1/16 (662
# labeled, 9,920 unlabeled), crop 513,
# for configs that inherit a full stock mmseg config (see
# configs/stock/README.md; keys start with `semi_`): UniMatch's recipe
# (../recipes/unimatch_voc12.py), data, batch and length
# (semi_unimatch_voc12aug.py) with RankMatch's loss, whose hyper-parameters
# (128 agents, top-4 orderings, weight 0.1) are the code defaults
# (RankMatch.default_train_cfg).
_base_ = ['./semi_unimatch_voc12aug.py']
semi_model = dict(type='RankMatch')

# RankMatch on Pascal VOC 2012 aug (mmseg layout), blended split 1/16, crop
# 513, for configs that inherit a full stock mmseg config (see
# configs/stock/README.md; keys start with `semi_`): UniMatch's recipe
# (semi_unimatch_voc12aug.py: data, batch, threshold, schedule, optimiser)
# plus the rank loss of
# configs/rankmatch/README.md (128 orthogonal agents on the decoder features,
# top-4 orderings, lambda 0.1 averaged over the two strong views; the
# official probability-space Plackett-Luce with eps 1e-10).
_base_ = ['./semi_unimatch_voc12aug.py']
semi_model = dict(
    type='RankMatch',
    semi_train_cfg=dict(
        rank_loss=dict(type='RankAwareKLLoss', num_agents=128, topk=4,
                       reduction='official', log_space=False, eps=1e-10,
                       loss_weight=0.1)))

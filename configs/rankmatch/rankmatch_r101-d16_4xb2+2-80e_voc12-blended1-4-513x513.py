# RankMatch, ResNet-101, VOC blended split 1_4, crop 513x513; data,
# schedule and length of the UniMatch config.
_base_ = ['../unimatch/'
          'unimatch_r101-d16_4xb2+2-80e_voc12-blended1-4-513x513.py']
# UniMatch plus the rank loss; the loss defaults are the paper's: 128
# orthogonal agents, top-4 orderings, lambda 0.1 averaged over the two strong
# views, 'official' reduction, the official probability-space
# Plackett-Luce with eps 1e-10 (see README.md).
model = dict(type='RankMatch',
             semi_train_cfg=dict(
                 rank_loss=dict(num_agents=128, log_space=False, eps=1e-10)))

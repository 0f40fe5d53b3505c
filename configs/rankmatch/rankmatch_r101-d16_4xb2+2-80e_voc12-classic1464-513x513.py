# RankMatch, ResNet-101, VOC classic split 1464, crop 513x513.
# 80 epochs over the 9118 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 1140 iterations per epoch, 91200 in total.
# UniMatch's crop-513 VOC config with the classic split.
_base_ = ['../unimatch/'
          'unimatch_r101-d16_4xb2+2-80e_voc12-blended1-16-513x513.py']
# UniMatch's recipe plus the rank loss, whose hyper-parameters are the code
# defaults (RankMatch.default_train_cfg, the paper's: 128 orthogonal agents,
# top-4 orderings, lambda 0.1 averaged over the two strong views, the
# official probability-space Plackett-Luce with eps 1e-10; see README.md).
model = dict(type='RankMatch')
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_dataset,
         split_file='../../splits/pascal/1464/labeled.txt'),
    dict(_base_.unlabeled_dataset,
         split_file='../../splits/pascal/1464/unlabeled.txt'),
]))
max_iters = 91200
val_interval = 5700
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))

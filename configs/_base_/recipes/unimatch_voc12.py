# UniMatch's official recipe on Pascal VOC 2012, the one source for the
# method configs (configs/unimatch) and the stock-model configs
# (configs/stock via ../semi/semi_unimatch_voc12aug.py). Keys start with
# `semi_`, so this file can sit next to a stock mmseg config in `_base_`.
# semi_train_cfg: the code default (UniMatch.default_train_cfg: threshold
# 0.95, two strong views with CutMix, feature perturbation) is the VOC
# recipe; only what a dataset changes is stated here.
# SGD lr 1e-3 on the backbone and 10x on every head (the official lr_multi
# on all non-backbone parameters, mmseg's auxiliary heads included),
# momentum 0.9, weight decay 1e-4, poly 0.9 per iteration to the end of
# training (`end` is train_cfg.max_iters, set by mmengine's Runner); lr for
# 4 GPUs x (2 labeled + 2 unlabeled) = 16 images per iteration.
semi_model = dict(
    type='UniMatch',
    semi_train_cfg=dict(),
    semi_test_cfg=dict(predict_on='student'))
semi_optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={
        'decode_head': dict(lr_mult=10.0),
        'auxiliary_head': dict(lr_mult=10.0)
    }),
    clip_grad=None)
semi_param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, by_epoch=False)
]
semi_custom_hooks = []
semi_auto_scale_lr = dict(enable=False, base_batch_size=16)

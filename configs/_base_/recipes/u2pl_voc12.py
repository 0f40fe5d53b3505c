# U2PL's official recipe on Pascal VOC 2012, the one source for configs/u2pl
# and configs/stock. semi_train_cfg: the code default (U2PL.default_train_cfg:
# alpha_0 = 20 %, CutMix p = 0.5, contrastive weight 0.1, 256-d
# representation head) plus, here, the one-epoch supervised warm-up (the
# EMA teacher starts after it) and the per-class queues. The drop-rate
# schedule's length and epoch come from the run (train_cfg.max_iters and the
# unlabeled loader). SGD lr 1e-3 on the backbone and 10x on the heads,
# momentum 0.9, weight decay 1e-4, poly 0.9; lr for 4 GPUs x (4 labeled +
# 4 unlabeled) = 32 images per iteration.
semi_model = dict(
    type='U2PL',
    semi_train_cfg=dict(
        sup_only_epochs=1,
        contrast=dict(
            # official capacities: 50000 for class 0, 30000 for the others;
            # fp16 ring buffers of normalised keys
            queue_length=[50000] + [30000] * 20,
            queue_dtype='float16',
            num_queries=256,
            num_negatives=50,
            temperature=0.5,
            low_rank=3,
            high_rank=20,
            low_entropy_threshold=20)),
    semi_test_cfg=dict(predict_on='teacher'))
semi_optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={
        'decode_head': dict(lr_mult=10.0),
        'auxiliary_head': dict(lr_mult=10.0),
        'rep_head': dict(lr_mult=10.0)
    }),
    clip_grad=None)
semi_param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, by_epoch=False)
]
# EMA of the parameters only (official; the teacher's BN statistics come
# from its own train-mode passes): decay min(1 - 1 / (n + 1), 0.99) n
# iterations after the warm-up (begin_iter: the model's warm-up).
semi_custom_hooks = [
    dict(type='EMATeacherHook', momentum=0.01, ramp_up=True,
         update_buffers=False)
]
semi_auto_scale_lr = dict(enable=False, base_batch_size=32)

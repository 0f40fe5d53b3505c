# CSS's official recipe on Pascal VOC 2012, the one source for configs/css
# and configs/stock. semi_train_cfg: the code default (CSS.default_train_cfg:
# logit/representation agreement pseudo-labels, ReCo fraction-weighted CE
# with delta_u 0.97, delta_w 0.7, lambda_c ramped down over 200 labeled
# epochs, strong views rescaled in [0.5, 1.5]) plus, here, the prototype
# contrast; the ramp-down's epoch is the run's labeled epoch. SGD (Nesterov)
# lr 6.4e-3 on every parameter, momentum 0.9, weight decay 5e-4, poly 0.9
# with a 1e-4 floor; lr for 4 GPUs x (8 labeled + 8 unlabeled) = 64 images
# per iteration.
semi_model = dict(
    type='CSS',
    semi_train_cfg=dict(
        contrast=dict(num_anchors=256, num_negatives=512, temperature=0.5,
                      hard_threshold=0.8, tilt='sharp',
                      tilt_temperature=0.1, momentum=0.99)),
    semi_test_cfg=dict(predict_on='teacher'))
semi_optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.0064, momentum=0.9, weight_decay=5e-4,
                   nesterov=True),
    clip_grad=None)
semi_param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, by_epoch=False)
]
# EMA of the parameters only (official), from the first iteration.
semi_custom_hooks = [
    dict(type='EMATeacherHook', momentum=0.01, ramp_up=True,
         update_buffers=False)
]
semi_auto_scale_lr = dict(enable=False, base_batch_size=64)

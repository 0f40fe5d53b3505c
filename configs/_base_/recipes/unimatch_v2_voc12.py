# UniMatch V2's official recipe (Pascal VOC and COCO; the Cityscapes and
# ADE20K recipes inherit it), the one source for configs/unimatch_v2 and for
# the other methods' DINOv2 configs (their optimiser and evaluation).
# semi_train_cfg: the code default (UniMatchV2.default_train_cfg: threshold
# 0.95, two CutMix-ed strong views with complementary channel dropout,
# (L_x + (L_s1 + L_s2) / 2) / 2).
# AdamW (0.9, 0.999), weight decay 0.01, lr 5e-6 on the encoder and 40x on
# every other part (the official lr_multi on every parameter whose name
# lacks "backbone"; written as 2e-4 = 40 x 5e-6 with a 1/40 multiplier on
# the backbone, so every head a method adds gets 40x), poly 0.9 per
# iteration to the end of training; lr for 4 GPUs x (4 labeled + 4 unlabeled) = 32 images per
# iteration. The EMA teacher gives the pseudo-labels: momentum
# max(1 / (t + 1), 0.004), i.e. decay min(1 - 1 / (t + 1), 0.996), on
# parameters and buffers. Both the student and the teacher are evaluated;
# the best teacher checkpoint is kept (the paper reports the EMA model).
semi_model = dict(
    type='UniMatchV2',
    semi_train_cfg=dict(),
    semi_test_cfg=dict(predict_on='teacher'))
semi_optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999),
                   weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=1 / 40)}),
    clip_grad=None)
semi_param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, by_epoch=False)
]
semi_custom_hooks = [dict(type='EMATeacherHook', momentum=0.004, ramp_up=True)]
semi_auto_scale_lr = dict(enable=False, base_batch_size=32)
semi_val_cfg = dict(type='TeacherStudentValLoop')
semi_save_best = 'teacher/mIoU'

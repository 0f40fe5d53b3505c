# U2PL's official recipe on Cityscapes: no supervised warm-up, 19 class
# queues, SGD lr 0.01 on every parameter (no head multiplier), weight decay
# 5e-4; lr for 8 GPUs x (2 + 2) = 32 images per iteration. The official
# OHEM losses belong to the segmentor.
_base_ = ['./u2pl_voc12.py']
semi_model = dict(semi_train_cfg=dict(
    sup_only_epochs=0, contrast=dict(queue_length=[50000] + [30000] * 18)))
semi_optim_wrapper = dict(
    optimizer=dict(lr=0.01, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={
        'decode_head': dict(lr_mult=1.0),
        'auxiliary_head': dict(lr_mult=1.0),
        'rep_head': dict(lr_mult=1.0)
    }))

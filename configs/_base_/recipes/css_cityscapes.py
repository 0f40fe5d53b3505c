# CSS's official recipe on Cityscapes: strong views rescaled in [0.5, 2.0];
# lr for 4 GPUs x (4 + 4) = 32 images per iteration; the rest as on VOC.
_base_ = ['./css_voc12.py']
semi_model = dict(semi_train_cfg=dict(strong_scale=(0.5, 2.0)))
semi_auto_scale_lr = dict(base_batch_size=32)

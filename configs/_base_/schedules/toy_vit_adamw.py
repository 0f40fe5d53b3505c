# Optimisation of the embedded demo's ViT arms (configs/toy/*vit-t-p8*):
# UniMatch V2's (AdamW (0.9, 0.999), weight decay 0.01, every part but the
# encoder at 40x the encoder's lr, poly 0.9 per iteration to 0; the recipe
# is the one source) at the toy's learning rate: `optimizer.lr` is the lr
# of the heads, the encoder gets 1/40 of it. Every ViT arm (supervised,
# UniMatch, UniMatch V2) uses this base. 5e-4 was the best of 2e-4, 5e-4,
# 2e-3 and 8e-3 for the supervised ViT arm (demo protocol, 1,200
# iterations); see the top-level README.
_base_ = ['../recipes/unimatch_v2_voc12.py']
optim_wrapper = dict(
    _base_.semi_optim_wrapper,
    optimizer=dict(_base_.semi_optim_wrapper.optimizer, lr=5e-4))
param_scheduler = _base_.semi_param_scheduler
# The length is each config's (train_cfg.max_iters).
train_cfg = dict(
    type='SemiIterBasedTrainLoop', max_iters=200, val_interval=200)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

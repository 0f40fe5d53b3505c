# CSS (cross), VOC classic split 732: the logit branch learns from the
# representation-space labels (weighted by their confidence), the
# contrastive branch from the logit-space labels. Official script: no
# logit-only warm-up (`--warmup 0`; the paper trains 20 epochs logit-only,
# set `cross_warmup_iters`). With tau 0.5 and delta_u 0.97 the official
# unsupervised CE is identically 0 (README).
_base_ = ['./css-mix_r101-d8_4xb8+8-80k_voc12-classic732-513x513.py']
model = dict(semi_train_cfg=dict(pseudo_label='cross', cross_warmup_iters=0))

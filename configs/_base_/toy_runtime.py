# Runtime of the embedded demo's semi-supervised configs (configs/toy):
# mmsemi's runtime, logging every 20 iterations, one checkpoint at the end
# of the 200-iteration runs, pseudo-label pictures every 100 iterations,
# gloo for CPU runs and a fixed seed.
_base_ = ['./semi_default_runtime.py']
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(interval=200, save_best=None),
    visualization=dict(type='SegVisualizationHook', draw=False),
    pseudo_labels=dict(enabled=True, interval=100))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)

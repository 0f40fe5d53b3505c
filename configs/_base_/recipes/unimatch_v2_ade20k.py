# UniMatch V2's official recipe on ADE20K: the VOC recipe with 4 GPUs x
# (2 + 2) = 16 images per iteration. (The official configs/ade20k.yaml locks
# the encoder; the logs of the reported runs train it, as here.)
_base_ = ['./unimatch_v2_voc12.py']
semi_auto_scale_lr = dict(base_batch_size=16)

# UniMatch (V1) on the embedded demo's ViT stand-in: the method, data and
# length of unimatch_r18s_toyshapes-1_16.py on the tiny ViT + UniMatch V2's
# DPT head, with the ViT arms' optimisation (UniMatch V2's AdamW, heads
# 40x). The feature perturbation drops channels of the four ViT maps the
# DPT head reads.
_base_ = ['./unimatch_r18s_toyshapes-1_16.py']
from mmsemi.utils.semi_config import (with_model_base,  # noqa: E402
                                      with_schedule_base)

globals().update(with_model_base(_base_, 'vit-t-p8_dpt_toy.py'))
globals().update(with_schedule_base('toy_vit_adamw.py'))

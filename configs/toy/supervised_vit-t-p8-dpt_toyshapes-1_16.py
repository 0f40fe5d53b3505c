# Supervised-only baseline of the embedded demo's ViT arms: the tiny ViT
# stand-in + UniMatch V2's DPT head on the 1/16 labeled split alone, with
# the ViT arms' optimisation (UniMatch V2's AdamW, heads 40x).
_base_ = ['./supervised_r18s_toyshapes-1_16.py']
from mmsemi.utils.semi_config import (model_base_dict,  # noqa: E402
                                      with_schedule_base)

model = dict(model_base_dict('vit-t-p8_dpt_toy.py')['model'], _delete_=True,
             data_preprocessor=_base_.model.data_preprocessor)
globals().update(with_schedule_base('toy_vit_adamw.py'))

# UniMatch V2, DINOv2-B, Cityscapes split 1/8, crop 798x798:
# the DINOv2-S config with the DINOv2-B encoder and its DPT head.
_base_ = ['./unimatch-v2_dinov2-s-dpt_4xb2+2-180e_cityscapes-1-8-798x798.py']
from mmsemi.utils.semi_config import with_model_base  # noqa: E402

globals().update(with_model_base(_base_, 'dinov2-b_dpt.py'))

# UniMatch V2, DINOv2-L, VOC classic split 1464, crop 518x518:
# the DINOv2-S config with the DINOv2-L encoder and its DPT head.
_base_ = ['./unimatch-v2_dinov2-s-dpt_4xb4+4-60e_voc12-classic1464-518x518.py']
from mmsemi.utils.semi_config import with_model_base  # noqa: E402

globals().update(with_model_base(_base_, 'dinov2-l_dpt.py'))

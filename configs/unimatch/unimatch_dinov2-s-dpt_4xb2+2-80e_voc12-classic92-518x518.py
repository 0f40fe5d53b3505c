# UniMatch on DINOv2-S + UniMatch V2's DPT head, VOC classic split 92, crop
# 518x518: the method's recipe, split, batch and length of
# unimatch_r101-d16_4xb2+2-80e_voc12-classic92-321x321.py
# with UniMatch V2's encoder, optimiser and lr schedule (AdamW, encoder lr
# 5e-6, every other part x40, poly to 0) and patch-14 evaluation
# (mmsemi.utils.semi_config.dinov2_student).
_base_ = ['./unimatch_r101-d16_4xb2+2-80e_voc12-classic92-321x321.py']
from mmsemi.utils.semi_config import dinov2_student  # noqa: E402

globals().update(dinov2_student(_base_))

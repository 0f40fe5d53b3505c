# UniMatch V2's model with DINOv2 ViT-L/14 (blocks 4, 11, 17, 23) and the
# L-size DPT head (features 256, projections 256/512/1024/1024).
_base_ = ['./dinov2-s_dpt.py']
from mmsemi.models.backbones.dinov2 import dinov2_dpt_changes  # noqa: E402

model = dinov2_dpt_changes('large')

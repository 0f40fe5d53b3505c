# UniMatch V2's model with DINOv2 ViT-B/14 (blocks 2, 5, 8, 11) and the
# B-size DPT head (features 128, projections 96/192/384/768).
_base_ = ['./dinov2-s_dpt.py']
from mmsemi.models.backbones.dinov2 import dinov2_dpt_changes  # noqa: E402

model = dinov2_dpt_changes('base')

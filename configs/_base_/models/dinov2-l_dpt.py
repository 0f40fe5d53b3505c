# UniMatch V2's model with DINOv2 ViT-L/14 (blocks 4, 11, 17, 23) and the
# L-size DPT head (features 256, projections 256/512/1024/1024).
_base_ = ['./dinov2-s_dpt.py']
from mmsemi.models.backbones.dinov2 import dinov2_pretrained  # noqa: E402

model = dict(
    backbone=dict(
        arch='large',
        init_cfg=dinov2_pretrained('large')),
    decode_head=dict(arch='large', in_channels=1024))

from .dinov2 import (DINOV2_ARCHS, DINOV2_CHECKPOINTS, DINOV2_OUT_INDICES,
                     DINOv2, dinov2_pretrained, dinov2_resize_pos_embed)

__all__ = [
    'DINOv2', 'DINOV2_ARCHS', 'DINOV2_CHECKPOINTS', 'DINOV2_OUT_INDICES',
    'dinov2_pretrained', 'dinov2_resize_pos_embed'
]

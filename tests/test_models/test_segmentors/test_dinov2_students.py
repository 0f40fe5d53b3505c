"""Every method on a DINOv2-S student (mmpretrain's ViT through the
``DINOv2`` wrapper, random weights): with UniMatch V2's DPT head on bare
feature maps, and with mmseg's stock ``DPTHead`` on ``[map, cls_token]``
pairs (``output_cls_token=True``). Two optimisation steps each at a 42 px
crop (a 3x3 patch grid)."""
import copy

import pytest
import torch

from mmseg.registry import MODELS

import mmsemi.models  # noqa: F401
from _tiny import (METHODS_AT_THRESHOLD_0, NUM_CLASSES, TINY_SEGMENTOR,
                   train_steps_at_threshold_0)

EMBED = 384  # DINOv2-S
SIZE = 42


def _backbone(pairs: bool) -> dict:
    return dict(type='DINOv2', arch='small', output_cls_token=pairs)


def _v2_head() -> dict:
    return dict(type='UniMatchV2DPTHead', arch='small', in_channels=EMBED,
                num_classes=NUM_CLASSES,
                loss_decode=dict(type='CrossEntropyLoss'))


def _stock_head() -> dict:
    return dict(type='DPTHead', in_channels=(EMBED, ) * 4, channels=16,
                in_index=(0, 1, 2, 3), input_transform='multiple_select',
                embed_dims=EMBED, post_process_channels=[8, 16, 32, 64],
                readout_type='project', patch_size=14,
                num_classes=NUM_CLASSES, norm_cfg=dict(type='BN'),
                loss_decode=dict(type='CrossEntropyLoss'))


STUDENTS = {
    'dinov2_v2_dpt': (False, _v2_head),
    'dinov2_stock_dpt': (True, _stock_head),
}


def _segmentor(student: str) -> dict:
    pairs, head = STUDENTS[student]
    preprocessor = copy.deepcopy(TINY_SEGMENTOR['data_preprocessor'])
    preprocessor['size'] = (SIZE, SIZE)
    return dict(type='EncoderDecoder', data_preprocessor=preprocessor,
                backbone=_backbone(pairs), decode_head=head(),
                train_cfg=dict(), test_cfg=dict(mode='whole'))


@pytest.mark.parametrize('student', sorted(STUDENTS))
@pytest.mark.parametrize('method', sorted(METHODS_AT_THRESHOLD_0))
def test_method_trains_on_dinov2_student(method, student):
    """Finite losses, every unsupervised term above 0 at threshold 0, and
    the encoder itself moves."""
    torch.manual_seed(0)
    model = MODELS.build(dict(type=method, segmentor=_segmentor(student),
                              semi_train_cfg=METHODS_AT_THRESHOLD_0[method]))
    encoder = model.student.backbone.vit.patch_embed.projection.weight
    before = encoder.detach().clone()
    train_steps_at_threshold_0(model, size=SIZE)
    assert not torch.equal(before, encoder)

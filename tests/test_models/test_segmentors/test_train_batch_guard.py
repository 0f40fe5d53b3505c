"""Start-up refusal of per-process batches a train-mode network cannot take
(``SemiBaseSegmentor.check_train_batch``)."""
import copy

import pytest
import torch

from mmseg.registry import MODELS

import mmsemi.models  # noqa: F401
from mmsemi.models.segmentors.semi_base import single_value_bn_layers
from _tiny import NUM_CLASSES, tiny_segmentor_cfg, unimatch_batch

SIZE = 32


def _fcn_segmentor():
    """The tiny segmentor with an FCN head: no global pooling."""
    cfg = tiny_segmentor_cfg()
    cfg['decode_head'] = dict(
        type='FCNHead', in_channels=32, in_index=3, channels=8, num_convs=1,
        num_classes=NUM_CLASSES, norm_cfg=dict(type='BN'))
    return cfg


def _css():
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='CSS', segmentor=tiny_segmentor_cfg(),
        semi_train_cfg=dict(
            iters_per_epoch=2, strong_branches=('unsup_strong1', ),
            rep_head=dict(type='ProjectionHead', channels=8, out_channels=6,
                          dropout_ratio=0.0),
            contrast=dict(num_anchors=4, num_negatives=3))))


def test_css_with_one_unlabeled_image_is_refused_with_reason_and_fix():
    model = _css()
    with pytest.raises(ValueError) as info:
        model.check_train_batch(2, 1)
    message = str(info.value)
    assert 'CSS cannot train with 2 labeled + 1 unlabeled' in message
    # the student's augmented unlabeled pass and the teacher's weak pass,
    # with the BN of the head's image pooling named
    assert 'its student runs in train mode on 1 image' in message
    assert 'its teacher runs in train mode on 1 image' in message
    layers = single_value_bn_layers(model.teacher, (SIZE, SIZE))
    assert f'teacher.{layers[0]}' in message
    assert 'at least 2 labeled and 2 unlabeled images per process' in message
    model.check_train_batch(2, 2)  # accepted


def test_refused_batch_really_fails_in_training():
    """What the guard prevents: BatchNorm's raw error at the first step."""
    model = _css()
    model.train()
    with pytest.raises(ValueError, match='Expected more than 1 value'):
        model.loss(*unimatch_batch(num_l=2, num_u=1, size=SIZE))
    losses = model.loss(*unimatch_batch(num_l=2, num_u=2, size=SIZE))
    assert torch.isfinite(losses['unsup.loss_u'])


def test_probe_finds_only_pooled_batch_norms_and_changes_no_state():
    aspp = MODELS.build(tiny_segmentor_cfg())
    before = copy.deepcopy(aspp.state_dict())
    aspp.train()
    layers = single_value_bn_layers(aspp, (SIZE, SIZE))
    # only the BN after the head's global pooling sees 1 x 1 maps
    assert len(layers) == 1 and layers[0].startswith('decode_head.'), layers
    assert aspp.training  # mode restored
    for key, value in aspp.state_dict().items():
        assert torch.equal(value, before[key]), key
    fcn = MODELS.build(_fcn_segmentor())
    assert single_value_bn_layers(fcn, (SIZE, SIZE)) == []


def test_sync_bn_over_several_processes_is_accepted():
    cfg = tiny_segmentor_cfg()
    cfg['decode_head']['norm_cfg'] = dict(type='SyncBN')
    model = MODELS.build(cfg)
    assert single_value_bn_layers(model, (SIZE, SIZE), world_size=2) == []
    assert single_value_bn_layers(model, (SIZE, SIZE), world_size=1)


@pytest.mark.parametrize('segmentor,refused', [(tiny_segmentor_cfg, True),
                                               (_fcn_segmentor, False)])
def test_train_mode_teacher_on_one_image(segmentor, refused):
    model = MODELS.build(dict(
        type='SemiBaseSegmentor', segmentor=segmentor(),
        semi_train_cfg=dict(use_teacher=True, teacher_mode='train')))
    assert model.train_forward_batches(1, 1) == dict(student=2, teacher=1)
    if refused:
        with pytest.raises(ValueError, match='its teacher runs in train'):
            model.check_train_batch(1, 1)
    else:
        model.check_train_batch(1, 1)


def test_method_batches():
    """The smallest train-mode batch of each method's networks."""
    seg = tiny_segmentor_cfg()
    unimatch = MODELS.build(dict(type='UniMatch', segmentor=seg))
    assert unimatch.train_forward_batches(2, 1) == dict(student=2)
    assert _css().train_forward_batches(1, 3) == dict(student=1, teacher=3)

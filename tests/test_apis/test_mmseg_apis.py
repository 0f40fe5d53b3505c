"""mmseg's inference APIs (``init_model``, ``inference_model``,
``MMSegInferencer``) on mmsemi configs: they build the wrapper without
pretrained weights and predict with the network ``predict_on`` names."""
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmseg.apis import MMSegInferencer, inference_model, init_model
from mmseg.apis.utils import _preprare_data
from mmseg.registry import MODELS

import mmsemi  # noqa: F401
from mmsemi.models.segmentors.wrapped_cfg import (apply_segmentor_options,
                                                  drop_pretrained_init_cfgs)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
U2PL_TOY = osp.join(ROOT, 'configs', 'toy', 'u2pl_r18s_toyshapes-1_16.py')
CLASSES = ('background', 'circle', 'square', 'triangle', 'star', 'ring',
           'cross')


def _image(seed: int = 0) -> np.ndarray:
    return np.random.RandomState(seed).randint(
        0, 256, (40, 48, 3), dtype=np.uint8)


@pytest.fixture(scope='module')
def u2pl_checkpoint(tmp_path_factory) -> str:
    """A U2PL toy checkpoint whose teacher differs from its student."""
    torch.manual_seed(0)
    model = init_model(U2PL_TOY, None, device='cpu')
    with torch.no_grad():
        for param in model.teacher.parameters():
            param.add_(0.05 * torch.randn_like(param))
    path = str(tmp_path_factory.mktemp('api') / 'u2pl.pth')
    torch.save(dict(meta=dict(dataset_meta=dict(classes=CLASSES,
                                                palette=[[0, 0, 0]] * 7)),
                    state_dict=model.state_dict()), path)
    return path


def _branch_logits(model, img) -> dict:
    """Logits of the student and the teacher on ``img``, computed by the
    branches themselves from inference_model's own preprocessing."""
    data, _ = _preprare_data(img, model)
    data = model.data_preprocessor(data, False)
    return {
        name: getattr(model, name).predict(
            data['inputs'], data['data_samples'])[0].seg_logits.data
        for name in ('student', 'teacher')
    }


@pytest.mark.parametrize('predict_on', ['teacher', 'student'])
def test_inference_model_uses_predict_on_network(u2pl_checkpoint, tmp_path,
                                                 predict_on):
    model = init_model(
        U2PL_TOY, u2pl_checkpoint, device='cpu',
        cfg_options={'model.semi_test_cfg.predict_on': predict_on})
    other = {'teacher': 'student', 'student': 'teacher'}[predict_on]
    img = _image()
    # A file first: mmseg 1.2.2's inference_model turns model.cfg's first
    # test transform into LoadImageFromNDArray for good once given an array.
    path = str(tmp_path / 'img.png')
    mmcv.imwrite(img, path)
    from_file = inference_model(model, path)

    result = inference_model(model, img)
    expected = _branch_logits(model, img)
    assert not torch.allclose(expected['teacher'], expected['student'],
                              atol=1e-3)
    assert result.pred_sem_seg.shape == img.shape[:2]
    torch.testing.assert_close(result.seg_logits.data, expected[predict_on])
    assert not torch.allclose(result.seg_logits.data, expected[other],
                              atol=1e-3)
    assert torch.equal(result.pred_sem_seg.data[0],
                       expected[predict_on].argmax(0))
    torch.testing.assert_close(from_file.seg_logits.data,
                               expected[predict_on])
    assert model.dataset_meta['classes'] == CLASSES


def test_mmseg_inferencer_matches_inference_model(u2pl_checkpoint):
    model = init_model(U2PL_TOY, u2pl_checkpoint, device='cpu')
    img = _image(1)
    expected = inference_model(model, img).pred_sem_seg.data
    inferencer = MMSegInferencer(model=U2PL_TOY, weights=u2pl_checkpoint,
                                 device='cpu')
    result = inferencer(img, return_datasamples=True)
    assert torch.equal(result.pred_sem_seg.data, expected)


def _pretrained_u2pl_cfg() -> Config:
    cfg = Config.fromfile(U2PL_TOY)
    # `pretrained` replaces the toy base's stand-in init_cfg (ResNet
    # accepts only one of them).
    cfg.model.segmentor.backbone.init_cfg = None
    cfg.model.segmentor.pretrained = 'no/such/weights.pth'
    cfg.model.segmentor.decode_head.init_cfg = [
        dict(type='Pretrained', checkpoint='no/such/head.pth'),
        dict(type='Constant', val=0.5, layer='Conv2d'),
    ]
    return cfg


def test_init_model_switches_off_wrapped_pretrained_weights():
    model = init_model(_pretrained_u2pl_cfg(), None, device='cpu')
    for branch in (model.student, model.teacher):
        # ResNet's own initialisers instead of the checkpoint.
        assert [c['type'] for c in branch.backbone.init_cfg] == [
            'Kaiming', 'Constant'
        ]
        assert branch.decode_head.init_cfg == [
            dict(type='Constant', val=0.5, layer='Conv2d')
        ]
        assert branch.train_cfg is None
    # Would raise FileNotFoundError if a checkpoint were still configured.
    model.init_weights()
    conv = model.student.decode_head.conv_seg
    assert torch.all(conv.weight == 0.5)


def test_wrapper_without_pretrained_option_keeps_segmentor_cfg():
    cfg = _pretrained_u2pl_cfg()
    model = MODELS.build(cfg.model)
    assert model.student.backbone.init_cfg == dict(
        type='Pretrained', checkpoint='no/such/weights.pth')
    assert model.student.train_cfg == dict()


def test_pretrained_and_train_cfg_given_on_the_wrapper():
    segmentor = dict(type='EncoderDecoder', backbone=dict(type='ResNetV1c'),
                     train_cfg=dict(a=1))
    out = apply_segmentor_options(segmentor, pretrained='w.pth',
                                  train_cfg=dict(b=2))
    assert out['pretrained'] == 'w.pth'
    assert out['train_cfg'] == dict(b=2)
    assert segmentor == dict(type='EncoderDecoder',
                             backbone=dict(type='ResNetV1c'),
                             train_cfg=dict(a=1))
    # A segmentor type without train_cfg/pretrained keys gets none added.
    bare = apply_segmentor_options(dict(type='X'), None, None)
    assert bare == dict(type='X')


def test_drop_pretrained_init_cfgs_at_any_depth():
    cfg = dict(
        backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='a')),
        heads=[dict(init_cfg=[dict(type='Pretrained', checkpoint='b'),
                              dict(type='Kaiming')])],
        init_cfg=dict(type='Normal'))
    assert drop_pretrained_init_cfgs(cfg) == dict(
        backbone=dict(init_cfg=None),
        heads=[dict(init_cfg=[dict(type='Kaiming')])],
        init_cfg=dict(type='Normal'))


@pytest.mark.parametrize('method', ['rankmatch', 'css'])
def test_inference_model_on_rankmatch_and_css(method):
    """init_model builds the newer methods' toy configs (CSS with its
    representation head and prototypes) and inference_model predicts with
    the network their ``predict_on`` names."""
    config = osp.join(ROOT, 'configs', 'toy',
                      f'{method}_r18s_toyshapes-1_16.py')
    torch.manual_seed(0)
    model = init_model(config, None, device='cpu')
    predict_on = model.semi_test_cfg['predict_on']
    img = _image(2)
    if model.teacher is not None:
        with torch.no_grad():
            for param in model.teacher.parameters():
                param.add_(0.05 * torch.randn_like(param))
    result = inference_model(model, img)
    data, _ = _preprare_data(img, model)
    data = model.data_preprocessor(data, False)
    expected = getattr(model, predict_on).predict(
        data['inputs'], data['data_samples'])[0].seg_logits.data
    torch.testing.assert_close(result.seg_logits.data, expected)
    assert result.pred_sem_seg.shape == img.shape[:2]
    if method == 'css':
        assert predict_on == 'teacher'
        assert 'contrast_loss.prototypes' in model.state_dict()


@pytest.mark.parametrize('config', [
    'unimatch_v2/'
    'unimatch-v2_dinov2-s-dpt_4xb4+4-60e_voc12-classic1464-518x518.py',
    'corrmatch/corrmatch_dinov2-s-dpt_4xb2+2-80e_voc12-classic92-518x518.py',
])
def test_inference_model_on_a_patch14_student_at_any_size(config):
    """A DINOv2 config's test pipeline rounds the image to multiples of 14
    (100 x 140 -> 98 x 140) and the prediction comes back at the image's
    own size; UniMatch V2 predicts with its EMA teacher."""
    model = init_model(osp.join(ROOT, 'configs', config), None,
                       device='cpu')
    img = np.random.default_rng(0).integers(0, 255, (100, 140, 3),
                                            dtype=np.uint8)
    data, _ = _preprare_data(img, model)
    assert tuple(data['inputs'][0].shape[-2:]) == (98, 140)
    result = inference_model(model, img)
    assert result.pred_sem_seg.shape == (100, 140)
    if model.semi_train_cfg.get('use_teacher'):
        assert model.semi_test_cfg['predict_on'] == 'teacher'

import pytest
import torch

from mmseg.registry import MODELS

import mmsemi.models  # noqa: F401
from _tiny import tiny_segmentor_cfg


def _build(**kwargs):
    torch.manual_seed(0)
    return MODELS.build(dict(type='SemiBaseSegmentor',
                             segmentor=tiny_segmentor_cfg(), **kwargs))


def test_misspelt_train_cfg_key_names_the_key():
    with pytest.raises(KeyError, match=r"unknown key\(s\) \['use_teachr'\]"):
        _build(semi_train_cfg=dict(use_teachr=True))


def test_teacher_built_frozen_and_kept_in_eval_mode():
    model = _build(semi_train_cfg=dict(use_teacher=True))
    assert all(not p.requires_grad for p in model.teacher.parameters())
    model.train()
    assert model.student.training and not model.teacher.training
    model2 = _build(semi_train_cfg=dict(use_teacher=True,
                                        teacher_mode='train'))
    model2.train()
    assert model2.teacher.training
    model2.eval()
    assert not model2.teacher.training


def test_predict_on_routes_inference():
    model = _build(semi_train_cfg=dict(use_teacher=True)).eval()
    with torch.no_grad():
        for p in model.teacher.parameters():
            p.add_(0.5)
    x = torch.randn(1, 3, 32, 32)
    assert model.semi_test_cfg['predict_on'] == 'teacher'
    torch.testing.assert_close(model._forward(x), model.teacher._forward(x))
    model.semi_test_cfg['predict_on'] = 'student'
    torch.testing.assert_close(model._forward(x), model.student._forward(x))
    assert not torch.allclose(model.student._forward(x),
                              model.teacher._forward(x))


def test_predict_on_teacher_without_teacher_is_an_error():
    with pytest.raises(ValueError, match='builds no teacher'):
        _build(semi_test_cfg=dict(predict_on='teacher'))


def test_plain_checkpoint_loads_into_student_and_teacher():
    torch.manual_seed(1)
    plain = MODELS.build(tiny_segmentor_cfg())
    model = _build(semi_train_cfg=dict(use_teacher=True))
    missing, unexpected = model.load_state_dict(plain.state_dict(),
                                                strict=False)
    assert not unexpected
    assert not [k for k in missing if 'student' in k or 'teacher' in k]
    for name, value in plain.state_dict().items():
        assert torch.equal(model.student.state_dict()[name], value)
        assert torch.equal(model.teacher.state_dict()[name], value)


def test_wrapped_checkpoint_round_trips():
    model = _build(semi_train_cfg=dict(use_teacher=True))
    other = _build(semi_train_cfg=dict(use_teacher=True))
    with torch.no_grad():
        for p in model.teacher.parameters():
            p.mul_(2)
    other.load_state_dict(model.state_dict())
    for k, v in model.state_dict().items():
        assert torch.equal(other.state_dict()[k], v)


def test_misspelt_choice_value_is_reported():
    with pytest.raises(ValueError, match=r"teacher_mode must be one of "
                       r"\('eval', 'train'\); got 'trian'"):
        _build(semi_train_cfg=dict(use_teacher=True, teacher_mode='trian'))


def test_runner_merged_top_level_preprocessor_is_wrapped():
    """mmengine's Runner copies a config's top-level ``data_preprocessor``
    (every stock mmseg config has one) into the model config; the wrapper
    still builds its multi-branch preprocessor around the segmentor's."""
    from mmengine.config import ConfigDict
    top_level = dict(type='SegDataPreProcessor', size=(99, 99),
                     mean=[1., 2., 3.], std=[1., 1., 1.])
    model_cfg = ConfigDict(type='SemiBaseSegmentor',
                           segmentor=tiny_segmentor_cfg())
    model_cfg.setdefault('data_preprocessor', top_level)  # Runner.__init__
    model = MODELS.build(model_cfg)
    assert type(model.data_preprocessor).__name__ == \
        'MultiBranchSegDataPreprocessor'
    assert model.data_preprocessor.data_preprocessor.size == (32, 32)
    # a segmentor without its own preprocessor takes the top-level one
    segmentor = tiny_segmentor_cfg()
    del segmentor['data_preprocessor']
    model = MODELS.build(dict(type='SemiBaseSegmentor', segmentor=segmentor,
                              data_preprocessor=top_level))
    assert model.data_preprocessor.data_preprocessor.size == (99, 99)
    # an explicit multi-branch one is kept as given
    given = dict(type='MultiBranchSegDataPreprocessor',
                 data_preprocessor=dict(top_level, size=(7, 7)))
    model = MODELS.build(dict(type='SemiBaseSegmentor',
                              segmentor=tiny_segmentor_cfg(),
                              data_preprocessor=given))
    assert model.data_preprocessor.data_preprocessor.size == (7, 7)

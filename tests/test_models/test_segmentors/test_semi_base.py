import pytest
import torch

from mmseg.registry import MODELS

import mmsemi.models  # noqa: F401
from mmsemi.models.segmentors.semi_base import (merge_method_cfg,
                                                rename_deprecated_keys)
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


def test_merge_rule_updates_a_part_of_the_same_type():
    defaults = dict(head=dict(type='A', channels=4, dropout=0.1), lr=1.0)
    merged = merge_method_cfg(defaults, dict(head=dict(channels=8)))
    assert merged['head'] == dict(type='A', channels=8, dropout=0.1)
    same = merge_method_cfg(defaults, dict(head=dict(type='A', dropout=0)))
    assert same['head'] == dict(type='A', channels=4, dropout=0)
    # another type: its own config alone, the defaults' kwargs are A's
    other = merge_method_cfg(defaults, dict(head=dict(type='B', size=2)))
    assert other['head'] == dict(type='B', size=2)
    assert merge_method_cfg(defaults, dict(lr=2.0))['lr'] == 2.0
    assert defaults['head']['channels'] == 4  # defaults untouched


def test_deprecated_keys_move_with_a_warning_naming_both():
    renames = {'old': 'new', 'branch': ('branches', lambda b: (b, )),
               'part.loss_weight': 'part_weight'}
    user = dict(old=1, branch='x', part=dict(loss_weight=0.5, size=3))
    with pytest.warns(FutureWarning) as record:
        cfg = rename_deprecated_keys(user, renames, 'semi_train_cfg')
    assert cfg == dict(new=1, branches=('x', ), part=dict(size=3),
                       part_weight=0.5)
    messages = ' '.join(str(w.message) for w in record)
    for old, new in (('old', 'new'), ('branch', 'branches'),
                     ('part.loss_weight', 'part_weight')):
        assert f'semi_train_cfg.{old} is deprecated; use ' \
            f'semi_train_cfg.{new}' in messages
    assert user['part'] == dict(loss_weight=0.5, size=3)  # not modified
    with pytest.raises(KeyError, match='give only new'):
        rename_deprecated_keys(dict(old=1, new=2), renames, 'cfg')


@pytest.mark.parametrize('method,part,cls', [
    ('U2PL', 'contrast', 'CategoryQueueInfoNCELoss'),
    ('CSS', 'contrast', 'PrototypeContrastLoss'),
    ('CorrMatch', 'corr_head', 'CorrelationHead'),
    ('CorrMatch', 'corr_loss', 'CorrelationLoss'),
    ('RankMatch', 'rank_loss', 'RankAwareKLLoss'),
])
def test_every_part_is_built_from_its_config_type(method, part, cls):
    """A part's ``type`` is looked up in the registry: an unknown one is
    an error, not silently the default class."""
    cfg = dict(U2PL=dict(max_iters=10), CSS=dict(iters_per_epoch=2))
    train_cfg = dict(cfg.get(method, {}), **{part: dict(type='NoSuchPart')})
    with pytest.raises(KeyError, match='NoSuchPart'):
        MODELS.build(dict(type=method, segmentor=tiny_segmentor_cfg(),
                          semi_train_cfg=train_cfg))
    assert MODELS.get(cls) is not None

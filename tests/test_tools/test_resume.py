# Copyright (c) mmsemi contributors. All rights reserved.
"""Training N iterations, stopping and resuming for M more gives exactly the
weights of N + M uninterrupted iterations (student, teacher and buffers,
CorrMatch's dynamic threshold included; RankMatch's random agent starts
come from the restored generator state)."""
import os.path as osp

import pytest
import torch

from mmsemi.utils import load_checkpoint_file
from ._helpers import REPO_ROOT, TOY_CONFIG, train

CORRMATCH_CONFIG = osp.join(REPO_ROOT, 'configs', 'toy',
                            'corrmatch_r18s_toyshapes-1_16.py')
RANKMATCH_CONFIG = osp.join(REPO_ROOT, 'configs', 'toy',
                            'rankmatch_r18s_toyshapes-1_16.py')
DETERMINISTIC = [
    'randomness.seed=0', 'randomness.deterministic=True',
    'default_hooks.checkpoint.interval=1',
    # the interrupted run keeps the 3-iteration run's schedule (without an
    # `end`, the poly decay would end at each leg's own max_iters)
    'param_scheduler.0.end=3',
]


def _teacher_config(tmp_path):
    """The toy UniMatch config with an EMA teacher, so the teacher's state
    is part of what resume must restore."""
    path = tmp_path / 'unimatch_with_teacher.py'
    path.write_text(
        f"_base_ = [{TOY_CONFIG!r}]\n"
        "model = dict(semi_train_cfg=dict(use_teacher=True))\n"
        "custom_hooks = [dict(type='EMATeacherHook', momentum=0.2)]\n")
    return str(path)


def _train(work_dir, max_iters, cwd, log_path, resume=False,
           config=TOY_CONFIG):
    return train(config, work_dir, max_iters, cwd, log_path, DETERMINISTIC,
                 resume=resume)


def _state_dict(path):
    # Loaded as mmsemi loads every checkpoint (weights_only=True).
    return load_checkpoint_file(path, map_location='cpu')['state_dict']


@pytest.mark.parametrize('method', ['unimatch', 'unimatch-ema-teacher',
                                    'corrmatch', 'rankmatch'])
def test_resume_matches_uninterrupted(toy_data_root, tmp_path, method):
    n, m = 2, 1
    with_teacher = method == 'unimatch-ema-teacher'
    config = dict(unimatch=TOY_CONFIG, corrmatch=CORRMATCH_CONFIG,
                  rankmatch=RANKMATCH_CONFIG).get(
        method) or _teacher_config(tmp_path)
    straight = str(tmp_path / 'straight')
    resumed = str(tmp_path / 'resumed')
    _train(straight, n + m, toy_data_root, str(tmp_path / 'straight.log'),
           config=config)
    _train(resumed, n, toy_data_root, str(tmp_path / 'first.log'),
           config=config)
    output = _train(
        resumed,
        n + m,
        toy_data_root,
        str(tmp_path / 'resumed.log'),
        resume=True,
        config=config)
    assert f'resumed epoch: 0, iter: {n}' in output

    expected = _state_dict(osp.join(straight, f'iter_{n + m}.pth'))
    actual = _state_dict(osp.join(resumed, f'iter_{n + m}.pth'))
    assert list(actual) == list(expected)
    assert any(key.startswith('student.') for key in expected)
    if with_teacher:
        teacher = [key for key in expected if key.startswith('teacher.')]
        assert teacher
        # the teacher moved away from the student, so it carries own state
        assert any(not torch.equal(expected[key],
                                   expected['student.' + key[8:]])
                   for key in teacher if expected[key].is_floating_point())
    if method == 'corrmatch':
        # tau moved away from its initial value and is part of the state
        assert float(expected['thresh.tau']) != pytest.approx(0.85)
    differing = [
        key for key in expected if not torch.equal(expected[key], actual[key])
    ]
    assert differing == [], f'{len(differing)} tensors differ after resume, ' \
        f'e.g. {differing[:5]}'

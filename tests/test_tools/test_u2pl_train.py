# Copyright (c) mmsemi contributors. All rights reserved.
"""A 3-iteration U2PL run through tools/train.py on a tiny generated
ToyShapes dataset: one supervised warm-up iteration, then every loss term
is logged; the iteration counter, the queues and the teacher are saved."""
import os.path as osp
import sys

import torch

from ._helpers import (FAST_CFG_OPTIONS, REPO_ROOT, run_checked,
                       subprocess_env)

TRAIN = osp.join(REPO_ROOT, 'tools', 'train.py')
CONFIG = osp.join(REPO_ROOT, 'configs', 'toy', 'u2pl_r18s_toyshapes-1_16.py')
LOSS_KEYS = ('sup.decode.loss_ce', 'unsup.loss_u', 'unsup.loss_contrast')


def test_u2pl_trains_three_iterations(toy_data_root, tmp_path):
    work_dir = str(tmp_path / 'u2pl')
    output = run_checked(
        [
            sys.executable, TRAIN, CONFIG, '--work-dir', work_dir,
            '--cfg-options', 'train_cfg.max_iters=3',
            'model.semi_train_cfg.max_iters=3',
            'model.semi_train_cfg.sup_only_iters=1',
            'custom_hooks.0.begin_iter=1',
            'default_hooks.checkpoint.interval=3', 'randomness.seed=0',
            *FAST_CFG_OPTIONS
        ],
        cwd=toy_data_root,
        env=subprocess_env(with_repo=False),
        log_path=str(tmp_path / 'train.log'))
    for key in LOSS_KEYS + ('unsup.drop_rate', 'unsup.lambda_u',
                            'ema_momentum'):
        assert f'{key}: ' in output, key

    checkpoint = torch.load(
        osp.join(work_dir, 'iter_3.pth'), map_location='cpu',
        weights_only=False)
    state = checkpoint['state_dict']
    assert int(state['cur_iter']) == 3
    assert int(state['contrast_loss.queue_fill'].sum()) > 0
    assert any(key.startswith('teacher.rep_head.') for key in state)
    assert any(key.startswith('student.rep_head.') for key in state)

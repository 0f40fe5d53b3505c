# Copyright (c) mmsemi contributors. All rights reserved.
"""A 3-iteration CorrMatch run through tools/train.py on a tiny generated
ToyShapes dataset: every loss term is logged, tau moves and is saved."""
import os.path as osp
import sys

import torch

from ._helpers import (FAST_CFG_OPTIONS, REPO_ROOT, run_checked,
                       subprocess_env)

TRAIN = osp.join(REPO_ROOT, 'tools', 'train.py')
CONFIG = osp.join(REPO_ROOT, 'configs', 'toy',
                  'corrmatch_r18s_toyshapes-1_16.py')
LOSS_KEYS = ('sup.decode.loss_ce', 'sup_corr.decode.loss_ce',
             'unsup.loss_strong', 'unsup.loss_fp', 'unsup.loss_kl',
             'unsup.loss_corr_strong', 'unsup.loss_corr_weak')


def test_corrmatch_trains_three_iterations(toy_data_root, tmp_path):
    work_dir = str(tmp_path / 'corrmatch')
    output = run_checked(
        [
            sys.executable, TRAIN, CONFIG, '--work-dir', work_dir,
            '--cfg-options', 'train_cfg.max_iters=3',
            'default_hooks.checkpoint.interval=3', 'randomness.seed=0',
            *FAST_CFG_OPTIONS
        ],
        cwd=toy_data_root,
        env=subprocess_env(with_repo=False),
        log_path=str(tmp_path / 'train.log'))
    for key in LOSS_KEYS + ('unsup.threshold', 'unsup.region_added'):
        assert f'{key}: ' in output, key
    assert 'tau: ' in output  # DynamicThresholdHook

    checkpoint = torch.load(
        osp.join(work_dir, 'iter_3.pth'), map_location='cpu',
        weights_only=False)
    state = checkpoint['state_dict']
    tau = state['thresh.tau'].item()
    # three EMA steps with momentum 0.999 from 0.85 (delta in [1/7, 1])
    assert tau != 0.85
    assert 0.85 - 3e-3 < tau < 0.85 + 3e-3
    assert any(key.startswith('corr_head.') for key in state)
    assert any(key.startswith('student.decode_head.') for key in state)

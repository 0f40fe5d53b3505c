# Copyright (c) mmsemi contributors. All rights reserved.
"""`mim train mmsemi <config basename>` works from a regular (non-editable)
install, outside the repository."""
import glob
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from ._helpers import FAST_CFG_OPTIONS, REPO_ROOT, TOY_CONFIG, run_checked


def test_mim_train_from_installed_wheel(wheel_install, toy_data_root,
                                        tmp_path):
    mim_found = subprocess.run([sys.executable, '-c', 'import mim'],
                               capture_output=True).returncode == 0
    assert mim_found, ('openmim is not installed; the test environment '
                       '(tools/setup_env.sh) installs it')
    target, env = wheel_install
    python = sys.executable
    # The run must use the installed copy, not the clone.
    location = run_checked(
        [python, '-c', 'import mmsemi; print(mmsemi.__file__)'],
        cwd=toy_data_root,
        env=env).strip().splitlines()[-1]
    assert not location.startswith(REPO_ROOT), location
    assert location == osp.join(target, 'mmsemi', '__init__.py'), location
    assert osp.isfile(
        osp.join(osp.dirname(location), '.mim', 'tools', 'train.py'))

    work_dir = str(tmp_path / 'work_dir')
    run_checked(
        [
            python, '-m', 'mim', 'train', 'mmsemi',
            osp.basename(TOY_CONFIG), '--work-dir', work_dir,
            '--cfg-options', 'train_cfg.max_iters=2',
            'default_hooks.checkpoint.interval=2', *FAST_CFG_OPTIONS
        ],
        cwd=toy_data_root,
        env=env,
        log_path=str(tmp_path / 'mim_train.log'))

    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    logs = glob.glob(osp.join(work_dir, '*', '*.log'))
    assert len(logs) == 1, logs
    with open(logs[0]) as f:
        assert 'Iter(train) [2/2]' in f.read()

    # `mim run` finds the installed tools/misc scripts too.
    plain = str(tmp_path / 'teacher.pth')
    run_checked([
        python, '-m', 'mim', 'run', 'mmsemi', 'extract_teacher',
        osp.join(work_dir, 'iter_2.pth'), plain
    ],
                cwd=toy_data_root,
                env=env)
    checkpoint = torch.load(plain, weights_only=True)
    state_dict = checkpoint['state_dict']
    assert checkpoint['meta']['dataset_meta']['classes'][0] == 'background'
    assert any(key.startswith('decode_head.') for key in state_dict)
    assert not any(key.startswith(('teacher.', 'student.'))
                   for key in state_dict)
    # The installed tool writes the plain config beside the weights.
    plain_cfg = Config.fromfile(osp.join(str(tmp_path), 'teacher.py'))
    assert plain_cfg.model.type == 'EncoderDecoder'
    assert 'custom_imports' not in plain_cfg

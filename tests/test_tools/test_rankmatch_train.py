# Copyright (c) mmsemi contributors. All rights reserved.
"""A 3-iteration RankMatch run of the toy config through tools/train.py:
every loss term is logged and finite, the rank terms are positive and the
checkpoint holds the student only (the rank loss has no state)."""
import math
import os.path as osp
import re
import sys

import torch

from ._helpers import (FAST_CFG_OPTIONS, REPO_ROOT, run_checked,
                       subprocess_env)

TRAIN = osp.join(REPO_ROOT, 'tools', 'train.py')
CONFIG = osp.join(REPO_ROOT, 'configs', 'toy',
                  'rankmatch_r18s_toyshapes-1_16.py')
LOSS_KEYS = ('sup.decode.loss_ce', 'unsup.loss_strong1', 'unsup.loss_strong2',
             'unsup.loss_fp', 'unsup.loss_rank1', 'unsup.loss_rank2')


def test_rankmatch_trains_three_iterations(toy_data_root, tmp_path):
    work_dir = str(tmp_path / 'rankmatch')
    output = run_checked(
        [
            sys.executable, TRAIN, CONFIG, '--work-dir', work_dir,
            '--cfg-options', 'train_cfg.max_iters=3',
            'default_hooks.checkpoint.interval=3',
            'default_hooks.logger.interval=1', 'randomness.seed=0',
            *FAST_CFG_OPTIONS
        ],
        cwd=toy_data_root,
        env=subprocess_env(with_repo=False),
        log_path=str(tmp_path / 'train.log'))
    lines = [line for line in output.splitlines() if 'Iter(train)' in line]
    assert len(lines) == 3
    for line in lines:
        values = {key: float(re.search(rf'{re.escape(key)}: (\S+)',
                                       line).group(1))
                  for key in LOSS_KEYS}
        assert all(math.isfinite(v) for v in values.values()), values
        assert values['unsup.loss_rank1'] > 0
        assert values['unsup.loss_rank2'] > 0

    state = torch.load(osp.join(work_dir, 'iter_3.pth'), map_location='cpu',
                       weights_only=False)['state_dict']
    assert all(key.startswith('student.') for key in state)

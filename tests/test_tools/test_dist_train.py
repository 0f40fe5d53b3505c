# Copyright (c) mmsemi contributors. All rights reserved.
"""tools/dist_train.sh runs two processes with the gloo backend on CPU."""
import glob
import os.path as osp

import pytest

from ._helpers import (FAST_CFG_OPTIONS, REPO_ROOT, TOY_CONFIG, free_port,
                       needs_toy_config, run_checked, subprocess_env)


RANKMATCH_CONFIG = osp.join(REPO_ROOT, 'configs', 'toy',
                            'rankmatch_r18s_toyshapes-1_16.py')


@needs_toy_config
@pytest.mark.parametrize('config', [TOY_CONFIG, RANKMATCH_CONFIG],
                         ids=['unimatch', 'rankmatch'])
def test_dist_train_two_processes_gloo(toy_data_root, tmp_path, config):
    env = subprocess_env(with_repo=False)
    env['PORT'] = str(free_port())
    work_dir = str(tmp_path / 'work_dir')
    run_checked(
        [
            'bash',
            osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), config, '2',
            '--work-dir', work_dir, '--cfg-options',
            'env_cfg.dist_cfg.backend=gloo', 'train_cfg.max_iters=3',
            'default_hooks.checkpoint.interval=3', 'log_level=DEBUG',
            *FAST_CFG_OPTIONS
        ],
        cwd=toy_data_root,
        env=env,
        log_path=str(tmp_path / 'dist_train.log'))

    assert osp.isfile(osp.join(work_dir, 'iter_3.pth'))
    # log_level=DEBUG makes mmengine write one log file per rank.
    for rank in (0, 1):
        logs = glob.glob(osp.join(work_dir, '*', f'*rank{rank}.log'))
        assert len(logs) == 1, (rank, logs)
        with open(logs[0]) as f:
            text = f.read()
        assert 'Iter(train) [3/3]' in text, rank
        assert "backend='gloo'" in text or '"backend": "gloo"' in text \
            or "'backend': 'gloo'" in text

# Copyright (c) mmsemi contributors. All rights reserved.
"""tools/dist_train.sh runs two processes with the gloo backend on CPU."""
import glob
import os.path as osp
import re

import pytest

from ._helpers import (FAST_CFG_OPTIONS, REPO_ROOT, TOY_CONFIG, free_port,
                       run_checked, subprocess_env)


RANKMATCH_CONFIG = osp.join(REPO_ROOT, 'configs', 'toy',
                            'rankmatch_r18s_toyshapes-1_16.py')


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


CSS_TOY = osp.join(REPO_ROOT, 'configs', 'toy', 'css_r18s_toyshapes-1_16.py')


def _logged_values(text, key):
    return re.findall(re.escape(key) + r': (\S+)', text)


def test_css_dist_train_keeps_prototypes_identical(toy_data_root, tmp_path):
    """Two gloo ranks see different images but log the same prototype
    checksum after every step (synchronised class sums)."""
    env = subprocess_env(with_repo=False)
    env['PORT'] = str(free_port())
    work_dir = str(tmp_path / 'work_dir')
    run_checked(
        [
            'bash',
            osp.join(REPO_ROOT, 'tools', 'dist_train.sh'), CSS_TOY, '2',
            '--work-dir', work_dir, '--cfg-options',
            'env_cfg.dist_cfg.backend=gloo', 'train_cfg.max_iters=3',
            'param_scheduler.0.end=3',
            'default_hooks.checkpoint.interval=3', 'log_level=DEBUG',
            *FAST_CFG_OPTIONS
        ],
        cwd=toy_data_root,
        env=env,
        log_path=str(tmp_path / 'dist_train.log'))
    texts = []
    for rank in (0, 1):
        logs = glob.glob(osp.join(work_dir, '*', f'*rank{rank}.log'))
        assert len(logs) == 1, (rank, logs)
        with open(logs[0]) as f:
            texts.append(f.read())
    norms = [_logged_values(t, 'unsup.prototype_norm') for t in texts]
    assert len(norms[0]) == 3 and norms[0] == norms[1]
    assert float(norms[0][-1]) > 0
    # different local batches: the ranks' losses differ
    ce = [_logged_values(t, 'sup.decode.loss_ce') for t in texts]
    assert ce[0] != ce[1]

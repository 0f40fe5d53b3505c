# Copyright (c) mmsemi contributors. All rights reserved.
"""tools/slurm_{train,test}.sh hand srun one GPU per task, or no generic
resources at all with SRUN_ARGS=--gres=none (CPU-only clusters). A stand-in
``srun`` on PATH records its arguments, or runs the command as one task."""
import os
import os.path as osp
import stat
import subprocess
from typing import Dict, List

import pytest

from ._helpers import (FAST_CFG_OPTIONS, REPO_ROOT, TOY_CONFIG, free_port,
                       run_checked, subprocess_env)

SCRIPTS = {
    'train': [osp.join(REPO_ROOT, 'tools', 'slurm_train.sh'), 'part', 'job',
              'cfg.py'],
    'test': [osp.join(REPO_ROOT, 'tools', 'slurm_test.sh'), 'part', 'job',
             'cfg.py', 'ckpt.pth'],
}


def _srun_args(tmp_path, script: str, env: Dict[str, str]) -> List[str]:
    """Run a slurm script with a fake srun; return srun's arguments."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / 'srun'
    record = tmp_path / 'srun_args.txt'
    fake.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "$@" > {record}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    full_env = dict(os.environ, PATH=f'{bin_dir}:{os.environ["PATH"]}',
                    **env)
    subprocess.run(['bash', *SCRIPTS[script]], env=full_env, check=True,
                   capture_output=True)
    return record.read_text().splitlines()


@pytest.mark.parametrize('script', ['train', 'test'])
def test_one_gpu_per_task_by_default(tmp_path, script):
    args = _srun_args(tmp_path, script, dict(GPUS='8', GPUS_PER_NODE='4',
                                             SRUN_ARGS='--quotatype=auto'))
    assert [a for a in args if a.startswith('--gres')] == ['--gres=gpu:4']
    assert '--ntasks=8' in args and '--ntasks-per-node=4' in args
    assert '--quotatype=auto' in args
    assert '--launcher=slurm' in args


@pytest.mark.parametrize('script', ['train', 'test'])
def test_gres_none_replaces_the_gpu_request(tmp_path, script):
    args = _srun_args(tmp_path, script, dict(GPUS='2', GPUS_PER_NODE='2',
                                             SRUN_ARGS='--gres=none'))
    assert [a for a in args if a.startswith('--gres')] == ['--gres=none']
    assert '--ntasks=2' in args and '--ntasks-per-node=2' in args


# Stands in for srun on one CPU node: drops srun's options and runs the
# command as task 0 of 1, with the variables srun would set.
RUNNING_SRUN = """#!/usr/bin/env bash
while [[ $# -gt 0 ]]; do
  case "$1" in
    -p) shift 2;;
    -*) shift;;
    *) break;;
  esac
done
export SLURM_PROCID=0 SLURM_NTASKS=1 SLURM_NODELIST=localhost SLURM_LOCALID=0
exec "$@"
"""


def test_slurm_train_on_cpu_with_gres_none(tmp_path, toy_data_root):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    fake = bin_dir / 'srun'
    fake.write_text(RUNNING_SRUN)
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = subprocess_env(with_repo=False)
    env.update(PATH=f'{bin_dir}:{env["PATH"]}', SRUN_ARGS='--gres=none',
               GPUS='1', GPUS_PER_NODE='1', MASTER_ADDR='127.0.0.1',
               MASTER_PORT=str(free_port()))
    work_dir = str(tmp_path / 'work_dir')
    out = run_checked(
        ['bash', SCRIPTS['train'][0], 'part', 'job', TOY_CONFIG, work_dir,
         '--cfg-options', 'train_cfg.max_iters=2',
         'default_hooks.checkpoint.interval=2', *FAST_CFG_OPTIONS],
        cwd=toy_data_root, env=env)
    assert 'Distributed launcher: slurm' in out
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))

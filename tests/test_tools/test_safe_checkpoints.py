# Copyright (c) mmsemi contributors. All rights reserved.
"""Checkpoints on the user route: a file whose unpickling would run code is
refused by every tool that loads checkpoints, naming the file and the
global, and the code never runs; the Runner's own checkpoints load in every
tool; ``--resume`` steps over a truncated latest checkpoint to the newest
intact one (and ends exactly where an uninterrupted run ends), or stops
when none is intact."""
import os.path as osp
import shutil
import subprocess
import sys
from typing import List

import pytest
import torch

from mmsemi.utils import (TRUSTED_CHECKPOINTS_ENV, UnsafeCheckpointError,
                          load_checkpoint_file)
from ._helpers import (FAST_CFG_OPTIONS, REPO_ROOT, TOY_CONFIG, subprocess_env,
                       train)
from ._resume import assert_equal

TRAIN = osp.join(REPO_ROOT, 'tools', 'train.py')
TEST = osp.join(REPO_ROOT, 'tools', 'test.py')
EXTRACT = osp.join(REPO_ROOT, 'tools', 'misc', 'extract_teacher.py')
DETERMINISTIC = [
    'randomness.seed=0', 'randomness.deterministic=True',
    'default_hooks.checkpoint.interval=1',
    # the decay of the 3-iteration run in every run (it otherwise ends at
    # each run's own train_cfg.max_iters)
    'param_scheduler.0.end=3',
]


def _run(args: List[str], cwd: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd,
                          env=subprocess_env(with_repo=False),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=600)


def _tool_args(route: str, checkpoint: str, tmp_path) -> List[str]:
    """The command line of ``route`` given ``checkpoint`` to load."""
    work_dir = str(tmp_path / 'work')
    train_options = ['train_cfg.max_iters=1', *FAST_CFG_OPTIONS]
    if route == 'train load_from':
        return [TRAIN, TOY_CONFIG, '--work-dir', work_dir, '--cfg-options',
                f'load_from={checkpoint}', *train_options]
    if route == 'train --resume':
        (tmp_path / 'work').mkdir()
        (tmp_path / 'work' / 'last_checkpoint').write_text(checkpoint)
        return [TRAIN, TOY_CONFIG, '--work-dir', work_dir, '--resume',
                '--cfg-options', *train_options]
    if route == 'test':
        return [TEST, TOY_CONFIG, checkpoint, '--work-dir', work_dir,
                '--cfg-options', *FAST_CFG_OPTIONS]
    keep = ['--keep-all-keys'] if route == 'extract_teacher all keys' else []
    return [EXTRACT, checkpoint, str(tmp_path / 'plain.pth'), *keep]


@pytest.mark.parametrize('route', [
    'train load_from', 'train --resume', 'test', 'extract_teacher',
    'extract_teacher all keys'
])
def test_every_tool_refuses_malicious_checkpoint(toy_data_root, tmp_path,
                                                 malicious_checkpoint,
                                                 route):
    proc = _run(_tool_args(route, malicious_checkpoint.path, tmp_path),
                cwd=toy_data_root)
    out = proc.stdout
    assert proc.returncode != 0, out[-3000:]
    assert 'UnsafeCheckpointError' in out
    assert f'Refused to load the checkpoint {malicious_checkpoint.path} ' \
        'for safety' in out
    assert f'`{malicious_checkpoint.refused_global}`' in out
    assert TRUSTED_CHECKPOINTS_ENV in out
    assert 'Iter(train)' not in out and 'Iter(test)' not in out
    assert not osp.exists(tmp_path / 'plain.pth')
    assert not osp.exists(malicious_checkpoint.marker)


def test_init_model_refuses_malicious_checkpoint(malicious_checkpoint):
    from mmseg.apis import init_model
    with pytest.raises(UnsafeCheckpointError,
                       match=malicious_checkpoint.refused_global) as info:
        init_model(TOY_CONFIG, malicious_checkpoint.path, device='cpu')
    assert malicious_checkpoint.path in str(info.value)
    assert not osp.exists(malicious_checkpoint.marker)


@pytest.fixture(scope='module')
def trained(toy_data_root, tmp_path_factory) -> str:
    """A work dir after 2 toy iterations (iter_1.pth, iter_2.pth)."""
    work_dir = str(tmp_path_factory.mktemp('safe') / 'work')
    train(TOY_CONFIG, work_dir, 2, toy_data_root, work_dir + '.log',
          DETERMINISTIC)
    return work_dir


def _copy_work_dir(trained: str, tmp_path) -> str:
    """A copy of ``trained`` whose last_checkpoint names its own iter_2."""
    work_dir = str(tmp_path / 'work')
    shutil.copytree(trained, work_dir)
    with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(work_dir, 'iter_2.pth'))
    return work_dir


def _truncate(path: str) -> None:
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


def test_runner_checkpoints_load_in_test_and_extract_tools(
        trained, toy_data_root, tmp_path):
    checkpoint = osp.join(trained, 'iter_2.pth')
    proc = _run(_tool_args('test', checkpoint, tmp_path), cwd=toy_data_root)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert 'Iter(test)' in proc.stdout and 'mIoU' in proc.stdout

    proc = _run(_tool_args('extract_teacher', checkpoint, tmp_path),
                cwd=toy_data_root)
    assert proc.returncode == 0, proc.stdout[-3000:]
    plain = torch.load(tmp_path / 'plain.pth', weights_only=True)
    state = load_checkpoint_file(checkpoint)['state_dict']
    assert torch.equal(plain['state_dict']['decode_head.conv_seg.weight'],
                       state['student.decode_head.conv_seg.weight'])


def test_resume_steps_over_truncated_latest_checkpoint(
        trained, toy_data_root, tmp_path):
    work_dir = _copy_work_dir(trained, tmp_path)
    truncated = osp.join(work_dir, 'iter_2.pth')
    _truncate(truncated)
    resumed = train(TOY_CONFIG, work_dir, 3, toy_data_root,
                    str(tmp_path / 'resumed.log'), DETERMINISTIC,
                    resume=True)
    assert f'Skipping checkpoint {truncated} for --resume: Cannot read ' \
        f'the checkpoint {truncated}: the file is truncated' in resumed
    assert 'resumed epoch: 0, iter: 1' in resumed

    straight = str(tmp_path / 'straight')
    train(TOY_CONFIG, straight, 3, toy_data_root,
          str(tmp_path / 'straight.log'), DETERMINISTIC)
    expected = load_checkpoint_file(osp.join(straight, 'iter_3.pth'))
    actual = load_checkpoint_file(osp.join(work_dir, 'iter_3.pth'))
    assert_equal(expected['state_dict'], actual['state_dict'], 'state_dict')


def test_resume_stops_when_no_checkpoint_is_intact(trained, toy_data_root,
                                                   tmp_path):
    work_dir = _copy_work_dir(trained, tmp_path)
    for n in (1, 2):
        _truncate(osp.join(work_dir, f'iter_{n}.pth'))
    proc = _run([TRAIN, TOY_CONFIG, '--work-dir', work_dir, '--resume',
                 '--cfg-options', 'train_cfg.max_iters=3',
                 *FAST_CFG_OPTIONS], cwd=toy_data_root)
    out = proc.stdout
    assert proc.returncode != 0
    assert f'CorruptCheckpointError: --resume found no intact checkpoint ' \
        f'in {work_dir}' in out
    for n in (1, 2):
        assert f'  {osp.join(work_dir, f"iter_{n}.pth")}: Cannot read' in out
    assert 'Iter(train)' not in out

# Copyright (c) mmsemi contributors. All rights reserved.
"""Helpers for the end-to-end tool tests (packaging, mim, dist, resume).

These tests run the real scripts in subprocesses on the ToyShapes demo
config, shrunk to a few iterations on a 40-image dataset.
"""
import importlib.util
import os
import os.path as osp
import socket
import subprocess
import sys
from typing import Dict, List, Optional

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY_CONFIG = osp.join(REPO_ROOT, 'configs', 'toy',
                      'unimatch_r18s_toyshapes-1_16.py')
TOY_DATA_SCRIPT = osp.join(REPO_ROOT, 'tools', 'misc',
                           'generate_toy_dataset.py')
# The toy config reads data_root='data/toyshapes' relative to the working
# directory, so runs start in a folder holding data/toyshapes.
TOY_DATA_SUBDIR = osp.join('data', 'toyshapes')

# Small, single-process data loading and no validation: the tests check the
# tools, not the model.
FAST_CFG_OPTIONS = [
    'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'val_dataloader.num_workers=0',
    'val_dataloader.persistent_workers=False',
    'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False',
    'train_cfg.val_interval=1000',
    'default_hooks.logger.interval=1',
]


def subprocess_env(with_repo: bool = True) -> Dict[str, str]:
    """Environment for tool subprocesses: one thread per process (the test
    machines are small), and the repo on PYTHONPATH only if asked."""
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    if with_repo:
        env['PYTHONPATH'] = REPO_ROOT
    env['OMP_NUM_THREADS'] = '1'
    env['MKL_NUM_THREADS'] = '1'
    return env


def run_checked(cmd: List[str],
                cwd: str,
                env: Dict[str, str],
                timeout: float = 600,
                log_path: Optional[str] = None) -> str:
    """Run ``cmd``; on failure, fail the test with the output's tail."""
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout)
    if log_path is not None:
        with open(log_path, 'w') as f:
            f.write(proc.stdout)
    if proc.returncode != 0:
        pytest.fail(f'command failed with exit code {proc.returncode}: '
                    f'{" ".join(cmd)}\n--- output (tail) ---\n'
                    f'{proc.stdout[-6000:]}')
    return proc.stdout


def load_train_tool():
    """``tools/train.py`` as a module (its ``parse_args``, ``build_config``
    and ``main``), for tests that run the tool's steps in-process."""
    path = osp.join(REPO_ROOT, 'tools', 'train.py')
    spec = importlib.util.spec_from_file_location('mmsemi_train_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    """A TCP port that is free now (for torchrun's rendezvous)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def train(config: str,
          work_dir: str,
          max_iters: int,
          cwd: str,
          log_path: str,
          options: List[str],
          resume: bool = False) -> str:
    """``tools/train.py config`` for ``max_iters`` iterations (resuming the
    latest checkpoint of ``work_dir`` if asked) with ``options`` and
    :data:`FAST_CFG_OPTIONS`; returns the output."""
    cmd = [
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'train.py'), config, '--work-dir',
        work_dir
    ]
    if resume:
        cmd.append('--resume')
    cmd += [
        '--cfg-options', f'train_cfg.max_iters={max_iters}', *options,
        *FAST_CFG_OPTIONS
    ]
    return run_checked(
        cmd, cwd=cwd, env=subprocess_env(with_repo=False), log_path=log_path)

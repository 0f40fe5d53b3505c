# Copyright (c) mmsemi contributors. All rights reserved.
"""Fixtures for the end-to-end tool tests (see _helpers.py)."""
import os
import os.path as osp
import shutil
import sys
from typing import Dict, List, Tuple

import pytest

from ._helpers import (REPO_ROOT, TOY_DATA_SCRIPT, TOY_DATA_SUBDIR,
                       run_checked, subprocess_env)


@pytest.fixture(scope='session')
def toy_data_root(tmp_path_factory) -> str:
    """A folder holding data/toyshapes with 40 train and 8 val images."""
    root = str(tmp_path_factory.mktemp('toy_run'))
    run_checked([
        sys.executable, TOY_DATA_SCRIPT, '--out',
        osp.join(root, TOY_DATA_SUBDIR), '--num-train', '40', '--num-val',
        '8', '--nproc', '1'
    ],
                cwd=root,
                env=subprocess_env())
    return root


def _ignore_build_outputs(directory: str, names: List[str]) -> List[str]:
    """copytree filter: leave out VCS data, build outputs and local data."""
    ignored = {
        '.git', 'build', 'dist', '.mim', '__pycache__', '.pytest_cache'
    }
    at_root = osp.abspath(directory) == REPO_ROOT
    return [
        name for name in names
        if name in ignored or name.endswith('.egg-info') or (
            at_root and name in ('data', 'work_dirs'))
    ]


@pytest.fixture(scope='session')
def built_wheel(tmp_path_factory) -> str:
    """Build the mmsemi wheel from a copy of the working tree.

    The copy keeps the tests from writing build/ and mmsemi/.mim into the
    clone. ``--no-build-isolation`` uses the installed setuptools (no
    download).
    """
    work = tmp_path_factory.mktemp('wheel_build')
    src = str(work / 'src')
    shutil.copytree(REPO_ROOT, src, ignore=_ignore_build_outputs)
    out = str(work / 'dist')
    run_checked([
        sys.executable, '-m', 'pip', 'wheel', '.', '--no-deps',
        '--no-build-isolation', '--disable-pip-version-check', '-q', '-w',
        out
    ],
                cwd=src,
                env=subprocess_env(with_repo=False))
    wheels = [name for name in os.listdir(out) if name.endswith('.whl')]
    assert len(wheels) == 1, wheels
    return osp.join(out, wheels[0])


@pytest.fixture
def wheel_install(tmp_path, built_wheel) -> Tuple[str, Dict[str, str]]:
    """The mmsemi wheel installed into a folder of its own, used by this
    interpreter through ``PYTHONPATH``; returns the folder and the env.

    This interpreter's packages (torch, mmcv, mmseg, mim) stay visible
    whatever it is: a venv, a conda environment or a bare interpreter. A
    nested venv would see the packages of the base interpreter instead,
    which inside a venv may have none of them. ``PYTHONPATH`` comes before
    site-packages, so the installed copy shadows any other one.
    """
    target = str(tmp_path / 'site')
    run_checked([
        sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-index',
        '--disable-pip-version-check', '-q', '--target', target, built_wheel
    ],
                cwd=str(tmp_path),
                env=subprocess_env(with_repo=False))
    env = subprocess_env(with_repo=False)
    env['PYTHONPATH'] = target
    return target, env

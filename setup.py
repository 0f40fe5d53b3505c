# Copyright (c) mmsemi contributors. All rights reserved.
"""Packaging for mmsemi.

mmcv is deliberately not an install requirement: PyPI only has its source
distribution, which must be compiled against the already installed torch
(``pip install --no-build-isolation mmcv==2.1.0``). A hard requirement would
make pip try (and usually fail) to build it in an isolated environment, and
could not be satisfied by forks that ship the ``mmcv`` import name under
another distribution name. ``requirements/mminstall.txt`` documents the range.
"""
import os
import os.path as osp
import platform
import shutil
import sys
import warnings
from typing import List

from setuptools import find_packages, setup

REPO_ROOT = osp.dirname(osp.abspath(__file__))

# Files and folders that `mim train/test/run mmsemi ...` looks up inside the
# installed package (mmsemi/.mim/...).
MIM_FILES = ['tools', 'configs', 'model-index.yml']


def get_version() -> str:
    """Read ``__version__`` from mmsemi/version.py without importing mmsemi
    (importing it needs torch and mmseg, which may not be installed yet)."""
    namespace: dict = {}
    with open(osp.join(REPO_ROOT, 'mmsemi', 'version.py')) as f:
        exec(compile(f.read(), 'mmsemi/version.py', 'exec'), namespace)
    return namespace['__version__']


def parse_requirements(fname: str) -> List[str]:
    """Read requirement specifiers from a file, following ``-r`` includes.

    Comments and blank lines are skipped; everything else is passed to
    setuptools unchanged (PEP 508 specifiers).
    """
    path = osp.join(REPO_ROOT, fname)
    requirements = []
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            if line.startswith('-r '):
                included = osp.join(osp.dirname(fname), line[3:].strip())
                requirements.extend(parse_requirements(included))
            else:
                requirements.append(line)
    return requirements


def add_mim_extension() -> None:
    """Put the files mim needs into ``mmsemi/.mim``.

    Same behaviour as mmseg's setup.py: for an editable/develop install the
    files are symlinked (edits in the repo are seen at once); when a wheel or
    sdist is built (``pip install .``, ``pip wheel .``) they are copied so the
    installed package is self-contained. Other commands (egg_info, dist_info)
    leave ``mmsemi/.mim`` alone.
    """
    if 'develop' in sys.argv:
        mode = 'copy' if platform.system() == 'Windows' else 'symlink'
    elif ('sdist' in sys.argv or 'bdist_wheel' in sys.argv
          or 'install' in sys.argv or platform.system() == 'Windows'):
        mode = 'copy'
    else:
        return

    mim_path = osp.join(REPO_ROOT, 'mmsemi', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for filename in MIM_FILES:
        src_path = osp.join(REPO_ROOT, filename)
        if not osp.exists(src_path):
            continue
        tar_path = osp.join(mim_path, filename)
        # Remove what an earlier build left (a copy or a symlink).
        if osp.isfile(tar_path) or osp.islink(tar_path):
            os.remove(tar_path)
        elif osp.isdir(tar_path):
            shutil.rmtree(tar_path)

        if mode == 'symlink':
            os.symlink(osp.relpath(src_path, mim_path), tar_path)
        elif osp.isfile(src_path):
            shutil.copyfile(src_path, tar_path)
        elif osp.isdir(src_path):
            shutil.copytree(
                src_path,
                tar_path,
                ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            warnings.warn(f'Cannot copy {src_path} into {mim_path}.')


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmsemi',
        version=get_version(),
        description='Semi-supervised semantic segmentation for '
        'MMSegmentation 1.x',
        long_description=open(osp.join(REPO_ROOT, 'README.md')).read()
        if osp.exists(osp.join(REPO_ROOT, 'README.md')) else '',
        long_description_content_type='text/markdown',
        keywords='computer vision, semantic segmentation, '
        'semi-supervised learning, openmmlab',
        packages=find_packages(exclude=('configs', 'tools', 'tests*')),
        include_package_data=True,
        python_requires='>=3.8',
        classifiers=[
            'Development Status :: 3 - Alpha',
            'Operating System :: OS Independent',
            'Programming Language :: Python :: 3',
            'Topic :: Scientific/Engineering :: Artificial Intelligence',
        ],
        license='Apache License 2.0',
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'all': parse_requirements('requirements/runtime.txt') +
            parse_requirements('requirements/tests.txt'),
            'tests': parse_requirements('requirements/tests.txt'),
            'mim': parse_requirements('requirements/mminstall.txt'),
            'optional': parse_requirements('requirements/optional.txt'),
        },
        zip_safe=False)

# Copyright (c) mmsemi contributors. All rights reserved.
"""The wheel ships what `mim train/test/run mmsemi ...` needs in mmsemi/.mim
and declares the right requirements."""
import glob
import os.path as osp
import zipfile
from collections import Counter
from email.parser import Parser

from ._helpers import REPO_ROOT


def _wheel_names(wheel):
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def _wheel_metadata(wheel):
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist()
                    if n.endswith('.dist-info/METADATA'))
        return Parser().parsestr(zf.read(name).decode())


def test_wheel_contains_mim_files(built_wheel):
    names = _wheel_names(built_wheel)
    for required in [
            'mmsemi/__init__.py',
            'mmsemi/version.py',
            'mmsemi/utils/checkpoint.py',
            'mmsemi/.mim/model-index.yml',
            'mmsemi/.mim/tools/train.py',
            'mmsemi/.mim/tools/test.py',
            'mmsemi/.mim/tools/dist_train.sh',
            'mmsemi/.mim/tools/slurm_train.sh',
            'mmsemi/.mim/tools/misc/extract_teacher.py',
    ]:
        assert required in names, required
    assert not any(name.startswith('tests/') for name in names)
    assert not any('__pycache__' in name for name in names)


def test_wheel_contains_every_config(built_wheel):
    names = _wheel_names(built_wheel)
    configs = glob.glob(
        osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    assert configs, 'the repository has no configs'
    for path in configs:
        rel = osp.relpath(path, REPO_ROOT).replace(osp.sep, '/')
        assert f'mmsemi/.mim/{rel}' in names, rel


def test_config_basenames_unique_in_package(built_wheel):
    # `mim train mmsemi NAME.py` searches the whole installed package for
    # NAME.py and refuses ambiguous names (READMEs are never looked up).
    names = [
        n for n in _wheel_names(built_wheel)
        if n.startswith('mmsemi/') and n.endswith('.py')
    ]
    counts = Counter(osp.basename(n) for n in names)
    duplicated = sorted(
        osp.basename(n) for n in names
        if n.startswith('mmsemi/.mim/configs/') and not osp.basename(n).
        startswith('_') and counts[osp.basename(n)] > 1)
    assert duplicated == []


def test_wheel_metadata(built_wheel):
    meta = _wheel_metadata(built_wheel)
    namespace = {}
    with open(osp.join(REPO_ROOT, 'mmsemi', 'version.py')) as f:
        exec(f.read(), namespace)
    assert meta['Name'] == 'mmsemi'
    assert meta['Version'] == namespace['__version__']
    requires = meta.get_all('Requires-Dist')
    unconditional = [r for r in requires if 'extra ==' not in r]
    names = {r.split(';')[0].split('<')[0].split('>')[0].split('=')[0]
             .strip() for r in unconditional}
    assert {'mmengine', 'mmsegmentation', 'ftfy', 'regex', 'numpy'} <= names
    # mmcv must be built against the user's torch: documented, not required.
    assert 'mmcv' not in names
    assert any(r.startswith('mmcv') and 'extra == "mim"' in r
               for r in requires)

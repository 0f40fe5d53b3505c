# Copyright (c) mmsemi contributors. All rights reserved.
"""CheckDatasetLabelsHook: train, val and test labels are checked before
they are used, and every shipped config enables the hook."""
import glob
import os
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from mmseg.registry import HOOKS
from mmsemi.datasets import SemiSegDataset
from mmsemi.engine.hooks import CheckDatasetLabelsHook

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
META = dict(classes=('background', 'a'), palette=[[0, 0, 0], [1, 1, 1]])
LOAD = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]


def _make_set(root, split_name, values):
    """A split whose line i + 2 (after a comment) lists a 4x4 label filled
    with values[i]."""
    lines = ['# samples']
    for i, value in enumerate(values):
        name = f'{split_name}_{i}'
        for sub, array in (('img', np.zeros((4, 4, 3), np.uint8)),
                           ('ann', np.full((4, 4), value, np.uint8))):
            os.makedirs(osp.join(root, sub), exist_ok=True)
            Image.fromarray(array).save(osp.join(root, sub, name + '.png'))
        lines.append(name)
    with open(osp.join(root, split_name + '.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return SemiSegDataset(
        split_file=split_name + '.txt', data_root=root,
        data_prefix=dict(img_path='img', seg_map_path='ann'),
        img_suffix='.png', seg_map_suffix='.png', metainfo=META,
        pipeline=LOAD)


def _loop(dataset):
    return SimpleNamespace(dataloader=SimpleNamespace(dataset=dataset))


def _runner(tmp_path, train=None, val=None, test=None):
    return SimpleNamespace(
        work_dir=str(tmp_path / 'work'),
        train_loop=_loop(train) if train is not None else None,
        val_loop=_loop(val) if val is not None else None,
        test_loop=_loop(test) if test is not None else None)


def test_bad_val_label_fails_before_training(tmp_path):
    root = str(tmp_path / 'data')
    runner = _runner(tmp_path, train=_make_set(root, 'train', [0, 1]),
                     val=_make_set(root, 'val', [0, 1, 5, 255]))
    with pytest.raises(ValueError) as info:
        CheckDatasetLabelsHook().before_train(runner)
    message = str(info.value)
    assert '1 label problem(s) found before train/val' in message
    assert (f"{osp.join(root, 'val.txt')}:4: label "
            f"'{osp.join(root, 'ann', 'val_2.png')}' has values [5] outside "
            '[0, 2) and != ignore_index 255') in message
    assert 'default_hooks.check_labels.enabled=False' in message
    # the pass cache went to the work dir
    assert os.listdir(osp.join(runner.work_dir, 'label_check'))


def test_bad_train_label_names_its_line(tmp_path):
    root = str(tmp_path / 'data')
    runner = _runner(tmp_path, train=_make_set(root, 'train', [0, 1, 1, 2]))
    with pytest.raises(ValueError, match=r'train\.txt:5: label .*train_3'):
        CheckDatasetLabelsHook().before_train(runner)


def test_test_set_is_checked_before_testing(tmp_path):
    root = str(tmp_path / 'data')
    runner = _runner(tmp_path, test=_make_set(root, 'test', [3]))
    hook = CheckDatasetLabelsHook(use_cache=False)
    hook.before_train(_runner(tmp_path))  # nothing configured: no error
    with pytest.raises(ValueError, match=r'test\.txt:2: .*values \[3\]'):
        hook.before_test(runner)
    assert not osp.exists(runner.work_dir)  # use_cache=False writes nothing


def test_val_checked_once(tmp_path):
    """before_val during training does not re-read what before_train
    checked (it would raise again here if it did)."""
    root = str(tmp_path / 'data')
    val = _make_set(root, 'val', [0])
    runner = _runner(tmp_path, train=_make_set(root, 'train', [0]), val=val)
    hook = CheckDatasetLabelsHook()
    hook.before_train(runner)
    Image.fromarray(np.full((4, 4), 9, np.uint8)).save(
        osp.join(root, 'ann', 'val_0.png'))
    hook.before_val(runner)


def test_opt_out_and_phases(tmp_path):
    root = str(tmp_path / 'data')
    runner = _runner(tmp_path, train=_make_set(root, 'train', [0]),
                     val=_make_set(root, 'val', [7]))
    CheckDatasetLabelsHook(enabled=False).before_train(runner)
    CheckDatasetLabelsHook(phases=['train']).before_train(runner)
    with pytest.raises(ValueError, match='unknown phases'):
        CheckDatasetLabelsHook(phases=['training'])


@pytest.mark.parametrize('name', [
    'toy/supervised_r18s_toyshapes-1_16.py',
    'toy/u2pl_r18s_toyshapes-1_16.py',
    'toy/corrmatch_r18s_toyshapes-1_16.py',
    'u2pl/u2pl_r101-d8_4xb4+4-80e_voc12-classic92-513x513.py',
    'supervised/supervised_r101-d16_4xb2-240e_cityscapes-1-8-801x801.py',
])
def test_shipped_configs_enable_both_guards(name):
    """Method configs with their own custom_hooks keep the guards, because
    they are default_hooks (a dict that merges) and not custom_hooks."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', name))
    hooks = cfg.default_hooks
    assert hooks.check_labels.type == 'CheckDatasetLabelsHook'
    assert hooks.finite_loss.type == 'FiniteLossHook'
    assert hooks.checkpoint.type == 'CheckpointHook'
    assert HOOKS.get(hooks.check_labels.type) is CheckDatasetLabelsHook


def test_every_config_with_the_base_runtime_has_the_guards():
    for path in glob.glob(osp.join(ROOT, 'configs', '*', '*.py')):
        text = open(path).read()
        if 'semi_default_runtime' not in text:
            continue
        hooks = Config.fromfile(path).default_hooks
        assert {'check_labels', 'finite_loss'} <= set(hooks), path

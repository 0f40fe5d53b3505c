# Copyright (c) mmsemi contributors. All rights reserved.
"""Bad input stops the real tools early and clearly: a label value outside
the classes (train or val split) before the first iteration, a diverging
loss or model state at the iteration it appears, without a non-finite
checkpoint; overlapping labeled and unlabeled splits are warned about."""
import glob
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from ._helpers import (FAST_CFG_OPTIONS, REPO_ROOT, TOY_DATA_SUBDIR,
                       subprocess_env)

SUPERVISED_CONFIG = osp.join(REPO_ROOT, 'configs', 'toy',
                             'supervised_r18s_toyshapes-1_16.py')
CSS_CONFIG = osp.join(REPO_ROOT, 'configs', 'toy',
                      'css_r18s_toyshapes-1_16.py')
UNIMATCH_CONFIG = osp.join(REPO_ROOT, 'configs', 'toy',
                           'unimatch_r18s_toyshapes-1_16.py')
CHECK_TOOL = osp.join(REPO_ROOT, 'tools', 'misc', 'check_dataset.py')


def _run(cmd, cwd):
    """Run ``cmd``; (exit code, output)."""
    proc = subprocess.run(cmd, cwd=cwd, env=subprocess_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=600)
    return proc.returncode, proc.stdout


def _train_cmd(work_dir, *options, config=SUPERVISED_CONFIG):
    return [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'),
            config, '--work-dir', work_dir, '--cfg-options',
            *options, *FAST_CFG_OPTIONS]


@pytest.fixture
def corrupt_copy(toy_data_root, tmp_path):
    """A private copy of the toy data; returns (cwd, corrupt) where
    ``corrupt(split, line)`` writes value 9 (7 classes) into the label
    listed at ``line`` of the split file and returns both paths."""
    cwd = str(tmp_path / 'run')
    shutil.copytree(osp.join(toy_data_root, TOY_DATA_SUBDIR),
                    osp.join(cwd, TOY_DATA_SUBDIR))

    def corrupt(split, line):
        split_path = osp.join(TOY_DATA_SUBDIR, split)
        with open(osp.join(cwd, split_path)) as f:
            name = f.read().splitlines()[line - 1].strip()
        label = osp.join(TOY_DATA_SUBDIR, 'SegmentationClass', name + '.png')
        array = np.array(Image.open(osp.join(cwd, label)))
        array[0, :3] = 9
        Image.fromarray(array).save(osp.join(cwd, label))
        return split_path, label

    return cwd, corrupt


def test_bad_val_label_stops_training_at_start_up(corrupt_copy, tmp_path):
    cwd, corrupt = corrupt_copy
    split, label = corrupt('ImageSets/Segmentation/val.txt', 5)
    expected = (f"{split}:5: label '{label}' has values [9] outside [0, 7) "
                'and != ignore_index 255')
    code, output = _run(_train_cmd(str(tmp_path / 'work'),
                                   'train_cfg.max_iters=2'), cwd)
    assert code != 0
    assert expected in output
    assert 'Iter(train)' not in output  # failed before the first iteration

    code, output = _run([sys.executable, CHECK_TOOL, SUPERVISED_CONFIG,
                         '--split', 'val', '--workers', '2'], cwd)
    assert code == 1
    assert expected in output
    assert '1 label problem(s)' in output


def test_check_dataset_tool_names_train_split_line(corrupt_copy):
    cwd, corrupt = corrupt_copy
    code, output = _run([sys.executable, CHECK_TOOL, SUPERVISED_CONFIG], cwd)
    assert code == 0, output
    assert 'all labels fit the classes and their images' in output
    split, label = corrupt('splits/1_16/labeled.txt', 2)
    code, output = _run([sys.executable, CHECK_TOOL, SUPERVISED_CONFIG,
                         '--split', 'train'], cwd)
    assert code == 1
    assert f"{split}:2: label '{label}' has values [9]" in output


def test_diverging_loss_stops_training_without_nan_checkpoint(
        toy_data_root, tmp_path):
    work_dir = str(tmp_path / 'work')
    code, output = _run(
        _train_cmd(work_dir, 'train_cfg.max_iters=20',
                   'optim_wrapper.optimizer.lr=1e6',
                   'default_hooks.checkpoint.interval=1'), toy_data_root)
    assert code != 0
    # The loss, or the weights updated by a still finite loss, whichever
    # goes first; both are named.
    match = re.search(r'RuntimeError: Non-finite (loss|model state) at '
                      r'iteration (\d+): (.*)\. Training stopped', output)
    assert match, output[-3000:]
    iteration = int(match.group(2))
    assert 1 <= iteration < 20
    named = {'loss': 'decode.loss_ce=', 'model state': 'backbone.'}
    assert named[match.group(1)] in match.group(3)
    saved = sorted(name for name in os.listdir(work_dir)
                   if name.endswith('.pth'))
    assert f'iter_{iteration}.pth' not in saved
    assert len(saved) == iteration - 1
    for name in saved:
        state = torch.load(osp.join(work_dir, name), map_location='cpu',
                           weights_only=False)['state_dict']
        assert all(torch.isfinite(v).all() for v in state.values()
                   if v.is_floating_point()), name


def test_diverging_css_names_its_state_not_a_sampling_error(
        toy_data_root, tmp_path):
    """CSS at lr 10 used to die in torch.multinomial on non-finite
    prototypes; the guard now stops it and names the state."""
    code, output = _run(
        _train_cmd(str(tmp_path / 'work'), 'train_cfg.max_iters=30',
                   'optim_wrapper.optimizer.lr=10', config=CSS_CONFIG),
        toy_data_root)
    assert code != 0
    assert 'invalid multinomial distribution' not in output
    match = re.search(r'RuntimeError: (?:Non-finite loss at iteration \d+: '
                      r'.*\. )?Non-finite model state at iteration (\d+): '
                      r'(.*)\. Training stopped', output)
    assert match, output[-3000:]
    assert 1 < int(match.group(1)) < 30
    named = re.split(r', |; ', match.group(2))
    assert all(re.fullmatch(r'(student|teacher|contrast_loss)\.[\w.]+'
                            r'|\.\.\. \(\d+ tensors of \w+\)', name)
               for name in named), named


@pytest.fixture
def overlapping_split(toy_data_root, tmp_path):
    """A private copy of the toy data whose unlabeled split also lists the
    first two labeled images; returns (cwd, cfg-options, expected names)."""
    cwd = str(tmp_path / 'run')
    root = osp.join(cwd, TOY_DATA_SUBDIR)
    shutil.copytree(osp.join(toy_data_root, TOY_DATA_SUBDIR), root)
    with open(osp.join(root, 'splits', '1_16', 'labeled.txt')) as f:
        labeled = f.read().split()
    with open(osp.join(root, 'splits', '1_16', 'unlabeled.txt')) as f:
        unlabeled = f.read().split()
    with open(osp.join(root, 'splits', 'overlap.txt'), 'w') as f:
        f.write('\n'.join(unlabeled + labeled[:2]) + '\n')
    options = ['train_dataloader.dataset.datasets.1.split_file='
               'splits/overlap.txt']
    images = os.listdir(osp.join(root, 'JPEGImages'))
    names = sorted(image for name in labeled[:2] for image in images
                   if osp.splitext(image)[0] == name)
    assert len(names) == 2
    expected = (f'2 of the {len(unlabeled) + 2} unlabeled images '
                f'({TOY_DATA_SUBDIR}/splits/overlap.txt) are also in the '
                f'labeled set of {len(labeled)} images '
                f'({TOY_DATA_SUBDIR}/splits/1_16/labeled.txt): '
                f'{", ".join(names)}.')
    return cwd, options, expected


def test_overlapping_splits_warn_at_start_up_and_in_check_tool(
        overlapping_split, tmp_path):
    cwd, options, expected = overlapping_split
    work_dir = str(tmp_path / 'work')
    code, output = _run(_train_cmd(work_dir, 'train_cfg.max_iters=1',
                                   *options, config=UNIMATCH_CONFIG), cwd)
    assert code == 0, output[-3000:]
    assert ('WARNING - Labeled and unlabeled splits overlap: '
            + expected) in output
    assert output.index(expected) < output.index('Iter(train)')
    [log] = glob.glob(osp.join(work_dir, '*', '*.log'))
    with open(log) as f:
        assert expected in f.read()

    code, output = _run([sys.executable, CHECK_TOOL, UNIMATCH_CONFIG,
                         '--split', 'train', '--cfg-options', *options], cwd)
    assert code == 0, output  # a warning, not a label problem
    assert f'train: warning: {expected}' in output
    code, output = _run([sys.executable, CHECK_TOOL, UNIMATCH_CONFIG,
                         '--split', 'train'], cwd)
    assert code == 0 and 'warning' not in output, output

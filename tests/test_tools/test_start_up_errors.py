# Copyright (c) mmsemi contributors. All rights reserved.
"""What a new user sees when a run cannot start: ``tools/train.py`` stops
before training with a message that says why and what to do, and writes
it to the work dir's log (the Runner's, else ``startup_error.log``)."""
import glob
import os
import os.path as osp
import subprocess
import sys

from mmsemi.datasets.mini_layouts import write_mini_datasets
from mmsemi.utils.data_root import datasets_of
from ._helpers import (FAST_CFG_OPTIONS, REPO_ROOT, load_train_tool,
                       subprocess_env)

TRAIN = osp.join(REPO_ROOT, 'tools', 'train.py')
UNIMATCH_VOC = osp.join(
    REPO_ROOT, 'configs', 'unimatch',
    'unimatch_r101-d16_4xb2+2-80e_voc12-classic92-321x321.py')
CSS_TOY = osp.join(REPO_ROOT, 'configs', 'toy', 'css_r18s_toyshapes-1_16.py')


def _train(args, cwd):
    return subprocess.run([sys.executable, TRAIN, *args], cwd=cwd,
                          env=subprocess_env(with_repo=False),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=600)


def test_missing_pretrained_weights_stop_before_training(tmp_path):
    write_mini_datasets(str(tmp_path / 'data'), ['voc_mmseg'])
    proc = _train([UNIMATCH_VOC, '--work-dir', str(tmp_path / 'w')],
                  cwd=str(tmp_path))
    assert proc.returncode != 0
    out = proc.stdout
    assert 'PretrainedWeightsError' in out
    assert "model.segmentor.pretrained = " \
        "'data/pretrained/resnet101_deepstem_mmseg.pth'" in out
    assert 'tools/model_converters/unimatch_resnet_to_mmseg.py' in out
    assert '--cfg-options model.segmentor.pretrained=None' in out
    assert 'Iter(train)' not in out  # stopped before the Runner trained
    # No Runner, so no Runner log: the error is in startup_error.log.
    work_dir = tmp_path / 'w'
    log = work_dir / 'startup_error.log'
    assert os.listdir(work_dir) == ['startup_error.log']
    assert f'The error below is also written to {log}' in out
    text = log.read_text()
    assert 'ERROR' in text and 'Traceback (most recent call last)' in text
    assert "PretrainedWeightsError: the pretrained weights this config " \
        "names are not available" in text
    assert "model.segmentor.pretrained = " \
        "'data/pretrained/resnet101_deepstem_mmseg.pth'" in text
    assert out.count('Traceback (most recent call last)') == 1


def test_css_with_one_unlabeled_image_per_process_is_refused(
        toy_data_root, tmp_path):
    proc = _train([
        CSS_TOY, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
        'train_dataloader.batch_size=3', 'train_dataloader.sampler.batch_size=3',
        'train_dataloader.sampler.source_ratio=[2,1]', *FAST_CFG_OPTIONS
    ], cwd=toy_data_root)
    assert proc.returncode != 0
    out = proc.stdout
    assert 'CSS cannot train with 2 labeled + 1 unlabeled image(s) per ' \
        'process' in out
    assert 'its teacher runs in train mode on 1 image(s)' in out
    assert 'at least 2 labeled and 2 unlabeled images per process' in out
    assert 'Expected more than 1 value per channel' not in out
    assert 'Iter(train)' not in out
    # The Runner was built: the error is in its log, after its start-up
    # lines, with the traceback.
    work_dir = str(tmp_path / 'w')
    [log] = glob.glob(osp.join(work_dir, '*', '*.log'))
    assert not osp.exists(osp.join(work_dir, 'startup_error.log'))
    assert f'The error below is also written to {log}' in out
    with open(log) as f:
        text = f.read()
    assert text.index('Config:') < text.index(
        'The run stopped with ValueError: CSS cannot train with 2 labeled '
        '+ 1 unlabeled image(s) per process')
    assert 'Traceback (most recent call last)' in text
    assert 'in _check_model_batch' in text
    assert out.count('Traceback (most recent call last)') == 1


def test_data_root_override_moves_every_loader(tmp_path):
    """``--data-root`` and ``--cfg-options data_root=...`` both move the
    labeled, unlabeled, val and test datasets."""
    train = load_train_tool()
    for extra in (['--data-root', '/d/VOC2012'],
                  ['--cfg-options', 'data_root=/d/VOC2012']):
        args = train.parse_args([UNIMATCH_VOC, '--work-dir',
                                 str(tmp_path), *extra])
        cfg = train.build_config(args)
        datasets = [d for loader in ('train_dataloader', 'val_dataloader',
                                     'test_dataloader')
                    for d in datasets_of(cfg[loader].dataset)]
        assert len(datasets) == 4
        assert {d['data_root'] for d in datasets} == {'/d/VOC2012'}


def test_tools_test_writes_its_error_to_the_runner_log(toy_data_root,
                                                       tmp_path):
    """tools/test.py with a checkpoint that does not exist: the Runner was
    built, so the error lands in its log file."""
    missing = str(tmp_path / 'no_such_checkpoint.pth')
    work_dir = str(tmp_path / 'w')
    proc = subprocess.run(
        [sys.executable, osp.join(REPO_ROOT, 'tools', 'test.py'), CSS_TOY,
         missing, '--work-dir', work_dir, '--cfg-options',
         *FAST_CFG_OPTIONS], cwd=toy_data_root,
        env=subprocess_env(with_repo=False), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, timeout=600)
    assert proc.returncode != 0
    [log] = glob.glob(osp.join(work_dir, '*', '*.log'))
    assert f'The error below is also written to {log}' in proc.stdout
    with open(log) as f:
        text = f.read()
    assert 'The run stopped with' in text and missing in text
    assert 'Traceback (most recent call last)' in text

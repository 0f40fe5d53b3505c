# Copyright (c) mmsemi contributors. All rights reserved.
"""The route users take: shipped configs through ``tools/train.py`` on data
in the real on-disk layouts.

Every ``configs/stock/*`` config and one config per method and dataset of
``configs/<method>/`` (plus supervised-only) trains one iteration and
validates one image in a ``tools/train.py`` subprocess, on the mini datasets
of :mod:`mmsemi.datasets.mini_layouts` (mmseg's VOC layout with
``SegmentationClassAug``, Cityscapes ``leftImg8bit``/``gtFine``), changed
only by the documented shrinking overrides of ``_user_route.py``. Every VOC
config's datasets are also built on both VOC layouts.
"""
import glob
import json
import math
import os.path as osp
import sys

import pytest
from mmengine.config import Config

from mmsemi.datasets.mini_layouts import voc_names, write_mini_datasets
from mmsemi.utils.data_root import datasets_of, set_data_root
from ._helpers import REPO_ROOT, run_checked, subprocess_env
from ._user_route import shrink_config

CONFIGS = osp.join(REPO_ROOT, 'configs')
STOCK = sorted(
    osp.relpath(p, CONFIGS)
    for p in glob.glob(osp.join(CONFIGS, 'stock', '*.py')))
# One config per method and dataset (VOC blended splits: their labeled
# images need mmseg's SegmentationClassAug).
METHOD = [
    'unimatch/unimatch_r101-d16_4xb2+2-80e_voc12-blended1-16-321x321.py',
    'unimatch/unimatch_r101-d16_4xb2+2-240e_cityscapes-1-16-801x801.py',
    'corrmatch/corrmatch_r101-d8_2xb4+4-80e_voc12-blended1-16-321x321.py',
    'corrmatch/corrmatch_r101-d8_4xb2+2-240e_cityscapes-1-16-801x801.py',
    'u2pl/u2pl_r101-d8_4xb4+4-80e_voc12-blended-u2pl1-16-513x513.py',
    'u2pl/u2pl_r101-d8_8xb2+2-200e_cityscapes-u2pl1-16-769x769.py',
    'rankmatch/rankmatch_r101-d16_4xb2+2-80e_voc12-blended1-16-513x513.py',
    'rankmatch/rankmatch_r101-d16_4xb2+2-240e_cityscapes-1-16-801x801.py',
    'css/css-mix_r101-d8_4xb8+8-80k_voc12-blended-u2pl1-16-513x513.py',
    'css/css-mix_r101-d8_4xb4+4-80k_cityscapes-u2pl1-16-769x769.py',
    'supervised/supervised_r101-d16_4xb2-80e_voc12-blended1-16-321x321.py',
    'supervised/supervised_r101-d16_4xb2-240e_cityscapes-1-16-801x801.py',
    'unimatch_v2/'
    'unimatch-v2_dinov2-s-dpt_4xb4+4-60e_voc12-classic1464-518x518.py',
    'unimatch_v2/'
    'unimatch-v2_dinov2-s-dpt_4xb2+2-180e_cityscapes-1-16-798x798.py',
    'unimatch_v2/unimatch-v2_dinov2-b-dpt_4xb2+2-60e_ade20k-1-16-518x518.py',
    'unimatch_v2/unimatch-v2_dinov2-b-dpt_4xb4+4-20e_coco-1-32-518x518.py',
    'unimatch/unimatch_dinov2-s-dpt_4xb2+2-80e_voc12-classic92-518x518.py',
    'corrmatch/corrmatch_dinov2-s-dpt_4xb2+2-80e_voc12-classic92-518x518.py',
    'rankmatch/rankmatch_dinov2-s-dpt_4xb2+2-80e_voc12-classic92-518x518.py',
    'u2pl/u2pl_dinov2-s-dpt_4xb4+4-80e_voc12-classic92-518x518.py',
    'css/css-mix_dinov2-s-dpt_4xb8+8-80k_voc12-classic92-518x518.py',
]
VOC_CONFIGS = sorted(
    osp.relpath(p, CONFIGS)
    for p in glob.glob(osp.join(CONFIGS, '*', '*.py'))
    if 'voc12' in osp.basename(p))


@pytest.fixture(scope='module')
def user_dirs(tmp_path_factory):
    """``run/data`` in mmseg's layouts (the configs' default data root,
    relative to the working directory ``run``) and ``elsewhere`` with the
    same Cityscapes data, reached with ``--data-root``."""
    base = tmp_path_factory.mktemp('user_route')
    run = base / 'run'
    write_mini_datasets(str(run / 'data'),
                        ['voc_mmseg', 'cityscapes', 'ade20k', 'coco'])
    elsewhere = base / 'elsewhere'
    write_mini_datasets(str(elsewhere), ['cityscapes'], seed=1)
    return str(run), str(elsewhere)


def _logged_rows(work_dir: str) -> list:
    """The rows of scalars.json: the training iteration, then validation."""
    paths = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert len(paths) == 1, paths
    with open(paths[0]) as f:
        rows = [json.loads(line) for line in f]
    return rows


def test_config_lists_exist():
    """Renaming or removing a listed config fails here, never skips."""
    assert len(STOCK) >= 21
    for rel in METHOD:
        assert osp.isfile(osp.join(CONFIGS, rel)), rel


@pytest.mark.parametrize('config', STOCK + METHOD)
def test_shipped_config_trains_through_tools_train(config, user_dirs,
                                                   tmp_path):
    run, elsewhere = user_dirs
    cfg = shrink_config(Config.fromfile(osp.join(CONFIGS, config)))
    shrunk = str(tmp_path / osp.basename(config))
    cfg.dump(shrunk)
    work_dir = str(tmp_path / 'work')
    cmd = [sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'), shrunk,
           '--work-dir', work_dir]
    if 'cityscapes' in config:  # the data root moved, splits with it
        cmd += ['--data-root', osp.join(elsewhere, 'cityscapes')]
    env = subprocess_env(with_repo=False)
    env['OMP_NUM_THREADS'] = env['MKL_NUM_THREADS'] = '2'
    run_checked(cmd, cwd=run, env=env, timeout=900)

    train_row, val_row = _logged_rows(work_dir)
    losses = {k: v for k, v in train_row.items() if 'loss' in k}
    assert losses and all(math.isfinite(v) for v in losses.values()), losses
    if not config.startswith('supervised/'):
        assert any(k.startswith('sup.') for k in losses), sorted(losses)
        assert any(k.startswith('unsup.') for k in losses), sorted(losses)
    # UniMatch V2 validates the EMA teacher and the student
    names = ['teacher/mIoU', 'student/mIoU'] if \
        cfg.get('val_cfg', {}).get('type') == 'TeacherStudentValLoop' \
        else ['mIoU']
    for name in names:
        assert name in val_row and math.isfinite(val_row[name]), val_row


@pytest.mark.parametrize('config', [
    'stock/unimatch_pspnet_r101-d8_4xb2+2-80e_voc12aug-1-16-513x513.py',
    'css/css-mix_r101-d8_4xb4+4-80k_cityscapes-u2pl1-16-769x769.py',
])
def test_tools_test_evaluates_the_trained_checkpoint(config, user_dirs,
                                                     tmp_path):
    """``tools/test.py`` on the checkpoint ``tools/train.py`` wrote: the
    stock whole-image test and the method's sliding-window test."""
    run, elsewhere = user_dirs
    cfg = shrink_config(Config.fromfile(osp.join(CONFIGS, config)),
                        checkpoint=True)
    shrunk = str(tmp_path / osp.basename(config))
    cfg.dump(shrunk)
    extra = ['--data-root', osp.join(elsewhere, 'cityscapes')] \
        if 'cityscapes' in config else []
    env = subprocess_env(with_repo=False)
    tools = osp.join(REPO_ROOT, 'tools')
    run_checked([sys.executable, osp.join(tools, 'train.py'), shrunk,
                 '--work-dir', str(tmp_path / 'train'), *extra], cwd=run,
                env=env)
    checkpoint = str(tmp_path / 'train' / 'iter_1.pth')
    assert osp.isfile(checkpoint)
    out = run_checked([sys.executable, osp.join(tools, 'test.py'), shrunk,
                       checkpoint, '--work-dir', str(tmp_path / 'test'),
                       *extra], cwd=run, env=env)
    assert 'Iter(test) [1/1]' in out and 'mIoU' in out


def test_every_voc_config_reads_both_layouts(tmp_path):
    """Labeled, unlabeled, val and test sets of every VOC config resolve
    every listed image and label in mmseg's and UniMatch's layouts."""
    from mmseg.registry import DATASETS
    roots = {}
    for layout in ('voc_mmseg', 'voc_merged'):
        roots[layout] = write_mini_datasets(str(tmp_path / layout),
                                            [layout])[layout]
    assert len(VOC_CONFIGS) > 80
    for rel in VOC_CONFIGS:
        cfg = Config.fromfile(osp.join(CONFIGS, rel))
        for layout, root in roots.items():
            set_data_root(cfg, root)
            for loader in ('train_dataloader', 'val_dataloader',
                           'test_dataloader'):
                for ds_cfg in datasets_of(cfg[loader].dataset):
                    dataset = DATASETS.build(dict(ds_cfg, pipeline=[]))
                    assert len(dataset) > 0, (rel, loader)
                    for index in range(len(dataset)):
                        info = dataset.get_data_info(index)
                        assert osp.isfile(info['img_path'])
                        if info.get('seg_map_path') is None:
                            continue
                        assert osp.isfile(info['seg_map_path'])
                        if layout == 'voc_mmseg':
                            _check_mask_folder(info['seg_map_path'], rel)


def _check_mask_folder(path: str, config: str) -> None:
    """In mmseg's layout a fine mask wins over the SBD one; an image with
    only an SBD mask reads SegmentationClassAug."""
    name = osp.splitext(osp.basename(path))[0]
    names = voc_names()
    folder = osp.basename(osp.dirname(path))
    if name in names['train'] or name in names['val']:
        assert folder == 'SegmentationClass', (config, path)
    else:
        assert name in names['sbd'] and folder == 'SegmentationClassAug', \
            (config, path)

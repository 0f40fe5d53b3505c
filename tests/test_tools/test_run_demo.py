"""The demo driver reads the final mIoU of each run and summarises arms."""
import importlib.util
import json
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
spec = importlib.util.spec_from_file_location(
    'run_demo', osp.join(ROOT, 'tools/misc/run_demo.py'))
run_demo = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_demo)


def _scalars(work_dir, stamp, records):
    folder = work_dir / stamp / 'vis_data'
    folder.mkdir(parents=True)
    with open(folder / 'scalars.json', 'w') as f:
        for record in records:
            f.write(json.dumps(record) + '\n')


def test_final_miou_reads_last_validation_of_latest_run(tmp_path):
    _scalars(tmp_path, '20260101_000000', [{'mIoU': 10.0, 'step': 5}])
    _scalars(tmp_path, '20260101_000100', [
        {'loss': 1.0, 'step': 1}, {'mIoU': 20.5, 'step': 5},
        {'loss': 0.5, 'step': 6}, {'mIoU': 31.25, 'step': 10}])
    assert run_demo.final_miou(str(tmp_path)) == 31.25


def test_final_miou_without_validation_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match='scalars.json'):
        run_demo.final_miou(str(tmp_path))
    _scalars(tmp_path, 'x', [{'loss': 1.0}])
    with pytest.raises(ValueError, match='holds no mIoU'):
        run_demo.final_miou(str(tmp_path))


def test_summary_reports_mean_spread_and_margin():
    rows = [
        dict(arm='supervised', seed=0, iters=10, seconds=60, mIoU=30.0),
        dict(arm='unimatch', seed=0, iters=3, seconds=61, mIoU=36.0),
        dict(arm='supervised', seed=1, iters=10, seconds=59, mIoU=32.0),
        dict(arm='unimatch', seed=1, iters=3, seconds=62, mIoU=34.0),
    ]

    class Args:
        split, warmup_iters = '1_16', 100
        arms = ('supervised', 'unimatch')

    text = run_demo.summarise(rows, dict(seconds=30, mIoU=20.0), Args)
    assert '| supervised | 31.00 | 30.00 | 32.00 |' in text
    assert '| unimatch | 35.00 | 34.00 | 36.00 |' in text
    assert 'UniMatch - supervised-only: +4.00 mIoU' in text


def test_arms_point_at_the_requested_split():
    opts = run_demo.semi_data_options('/d', '1_8')
    assert 'train_dataloader.dataset.datasets.0.split_file=' \
        'splits/1_8/labeled.txt' in opts
    assert 'train_dataloader.dataset.datasets.1.split_file=' \
        'splits/1_8/unlabeled.txt' in opts
    assert 'train_dataloader.dataset.split_file=splits/1_8/labeled.txt' \
        in run_demo.data_options('/d', '1_8')


def test_every_semi_arm_is_compared_with_supervised_only():
    rows = [
        dict(arm=arm, seed=seed, iters=5, seconds=60, mIoU=miou)
        for arm, seed, miou in [('supervised', 0, 30.0), ('supervised', 1,
                                                          32.0),
                                ('corrmatch', 0, 33.0), ('corrmatch', 1,
                                                         36.0),
                                ('u2pl', 0, 29.0), ('u2pl', 1, 30.0)]
    ]

    class Args:
        split, warmup_iters = '1_16', 100
        arms = ('supervised', 'corrmatch', 'u2pl')

    text = run_demo.summarise(rows, dict(seconds=30, mIoU=20.0), Args)
    assert '| corrmatch | 34.50 | 33.00 | 36.00 |' in text
    assert 'CorrMatch - supervised-only: +3.50 mIoU' in text
    assert 'U2PL - supervised-only: -1.50 mIoU' in text


def test_u2pl_arm_spans_its_schedule_and_skips_the_burn_in():
    class Args:
        split, arms = '1_16', ('supervised', 'u2pl')
        sup_iters, unimatch_iters, corrmatch_iters, u2pl_iters = 10, 8, 9, 7

    settings = run_demo.arm_settings(Args, '/d')
    assert list(settings) == ['supervised', 'u2pl']
    config, iters, opts = settings['u2pl']
    assert iters == 7 and config.endswith('u2pl_r18s_toyshapes-1_16.py')
    assert 'model.semi_train_cfg.max_iters=7' in opts
    assert 'model.semi_train_cfg.sup_only_iters=0' in opts
    assert 'custom_hooks.0.begin_iter=0' in opts

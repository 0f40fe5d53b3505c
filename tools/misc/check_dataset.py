# Copyright (c) mmsemi contributors. All rights reserved.
"""Check every label of a config's datasets, as training does at start-up.

Usage::

    python tools/misc/check_dataset.py CONFIG [--split train val test]
        [--workers N] [--cache-dir DIR] [--cfg-options KEY=VALUE ...]

Builds ``<split>_dataloader.dataset`` of the config for each split (all
three by default; a test set configured like the val set is checked once)
and reads every label its pipeline loads: values outside
``[0, num_classes)`` other than the ignore index (after the dataset's
``reduce_zero_label``/``label_map``), multi-channel labels and image/label
size mismatches are listed with split file, line and label file. Prints a
summary per dataset and exits with 1 if any problem was found.

For a labeled + unlabeled training set it also reports images that both
splits list (count, split files, a few names), as a warning like the one
training prints at start-up; an overlap alone does not change the exit
status.

This is the check of ``CheckDatasetLabelsHook`` (enabled in mmsemi's base
runtime); run it on huge sets where the hook is switched off
(``default_hooks.check_labels.enabled=False``), or to fill the hook's cache
ahead of training with ``--cache-dir <work dir>``.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List

_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if osp.isdir(osp.join(_REPO_ROOT, 'mmsemi')) and _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

from mmseg.registry import DATASETS  # noqa: E402

import mmsemi  # noqa: E402,F401  (registers mmsemi datasets/transforms)
from mmsemi.datasets.label_check import (DatasetLabelReport,  # noqa: E402
                                         check_dataset_labels,
                                         format_problems)
from mmsemi.datasets.split_overlap import find_split_overlap  # noqa: E402

SPLITS = ('train', 'val', 'test')


def parse_args(argv: List[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Check the labels of the datasets of a config')
    parser.add_argument('config', help='config file')
    parser.add_argument('--split', nargs='+', choices=SPLITS,
                        default=list(SPLITS),
                        help='dataloaders to check (default: all)')
    parser.add_argument('--workers', type=int,
                        default=min(8, os.cpu_count() or 1),
                        help='reader threads')
    parser.add_argument('--cache-dir', default=None,
                        help='pass cache folder (e.g. the work dir of the '
                        'training run); default: no cache')
    parser.add_argument('--max-listed', type=int, default=1000,
                        help='problems printed at most')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, as in train.py')
    return parser.parse_args(argv)


def check_config(cfg: Config, splits: List[str], workers: int,
                 cache_dir: str = None) -> List[DatasetLabelReport]:
    """Build and check the dataset of each split; print the summaries."""
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    reports: List[DatasetLabelReport] = []
    seen = []
    for split in splits:
        loader_cfg = cfg.get(f'{split}_dataloader')
        if not loader_cfg:
            print(f'{split}: no {split}_dataloader in the config')
            continue
        dataset_cfg = loader_cfg['dataset']
        if dataset_cfg in seen:
            print(f'{split}: same dataset as checked above')
            continue
        seen.append(dataset_cfg)
        dataset = DATASETS.build(dataset_cfg)
        for overlap in find_split_overlap(dataset):
            print(f'{split}: warning: {overlap.message()}')
        for report in check_dataset_labels(dataset, workers, cache_dir):
            print(f'{split}: {report.summary()}')
            reports.append(report)
    return reports


def main(argv: List[str] = None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    reports = check_config(cfg, args.split, args.workers, args.cache_dir)
    num_bad = sum(len(report.problems) for report in reports)
    if num_bad:
        print(f'\n{num_bad} label problem(s):')
        print(format_problems(reports, args.max_listed))
        return 1
    print('all labels fit the classes and their images')
    return 0


if __name__ == '__main__':
    sys.exit(main())

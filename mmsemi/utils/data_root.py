# Copyright (c) mmsemi contributors. All rights reserved.
"""Moving every dataset of a config to another data root at once.

A config resolves ``data_root`` when it is parsed, so each dataset of the
training (labeled and unlabeled), validation and test loaders holds its own
copy and ``--cfg-options data_root=X`` changes none of them.
:func:`set_data_root` (``tools/train.py --data-root``, ``tools/test.py
--data-root``) rewrites them all. Split files and ann files are relative to
the data root, so they move with it: with ``--data-root /d/VOCdevkit/VOC2012``
the VOC configs read ``/d/splits/pascal/<split>/`` (``../../splits``), with
``--data-root /d/cityscapes`` the Cityscapes ones read ``/d/splits/...``.
"""
from typing import Any, List

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def datasets_of(dataset_cfg: Any) -> List[dict]:
    """The leaf dataset configs below a dataset config, through wrappers
    (``ConcatDataset.datasets``, ``RepeatDataset.dataset``, ...)."""
    if isinstance(dataset_cfg, (list, tuple)):
        return [d for item in dataset_cfg for d in datasets_of(item)]
    if not isinstance(dataset_cfg, dict):
        return []
    if 'datasets' in dataset_cfg:
        return datasets_of(dataset_cfg['datasets'])
    if 'dataset' in dataset_cfg:
        return datasets_of(dataset_cfg['dataset'])
    return [dataset_cfg]


def set_data_root(cfg: Any, data_root: str) -> int:
    """Set ``data_root`` of every dataset of the train/val/test loaders
    (and the top-level ``data_root`` key); returns how many were set.

    Raises:
        KeyError: if no dataset of the config has a ``data_root``.
    """
    count = 0
    for loader in LOADERS:
        loader_cfg = cfg.get(loader)
        if not loader_cfg:
            continue
        for dataset in datasets_of(loader_cfg.get('dataset')):
            if 'data_root' in dataset:
                dataset['data_root'] = data_root
                count += 1
    if count == 0:
        raise KeyError('no dataset of train_dataloader, val_dataloader or '
                       'test_dataloader has a data_root to replace')
    if 'data_root' in cfg:
        cfg['data_root'] = data_root
    return count

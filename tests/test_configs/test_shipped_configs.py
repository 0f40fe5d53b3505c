"""Every shipped config loads with Config.fromfile and builds its model
offline (pretrained=None), with the classes its dataset declares."""
import glob
import os.path as osp

import pytest
import torch.nn as nn
from mmengine.config import Config

from mmseg.registry import DATASETS, MODELS

import mmsemi  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ALL_CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                         recursive=True) if '_base_' not in p)
# configs/stock wrap stock mmseg configs: test_stock_configs.py checks them.
CONFIGS = [
    p for p in ALL_CONFIGS
    if osp.basename(osp.dirname(p)) != 'stock'
]


def _segmentor_cfg(model_cfg):
    return model_cfg['segmentor'] if 'segmentor' in model_cfg else model_cfg


def _offline(model_cfg):
    seg = _segmentor_cfg(model_cfg)
    seg['pretrained'] = None
    # SyncBN needs a process group; the structure is the same with BN.
    for part in ('backbone', 'decode_head', 'auxiliary_head'):
        if isinstance(seg.get(part), dict) and 'norm_cfg' in seg[part]:
            seg[part]['norm_cfg'] = dict(type='BN', requires_grad=True)
    return model_cfg


#: Shipped configs per folder (a new or removed config changes this table
#: and the snapshot of test_refactor_equality.py together).
SHIPPED = dict(corrmatch=27, css=17, rankmatch=25, stock=21, supervised=15,
               toy=9, u2pl=13, unimatch=16, unimatch_v2=32)


def test_configs_are_found_and_unique():
    found = {}
    for path in ALL_CONFIGS:
        folder = osp.relpath(path, osp.join(ROOT, 'configs')).split(osp.sep)
        assert len(folder) == 2, path
        found[folder[0]] = found.get(folder[0], 0) + 1
    assert found == SHIPPED
    assert len(CONFIGS) == sum(SHIPPED.values()) - SHIPPED['stock']
    names = [osp.basename(p) for p in ALL_CONFIGS]
    assert len(names) == len(set(names)), 'mim needs unique config names'


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds_model(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports['imports'] == ['mmsemi']
    assert cfg.default_scope == 'mmseg'
    model = MODELS.build(_offline(cfg.model.to_dict()))
    assert isinstance(model, nn.Module)
    seg = _segmentor_cfg(cfg.model)
    dataset_cls = DATASETS.get(cfg.val_dataloader.dataset.type)
    num_classes = len(dataset_cls.METAINFO['classes'])
    assert seg['decode_head']['num_classes'] == num_classes
    assert seg['data_preprocessor']['size'] == cfg.crop_size
    if cfg.model.type != 'EncoderDecoder':
        sampler = cfg.train_dataloader.sampler
        assert sampler.batch_size == cfg.train_dataloader.batch_size
        assert cfg.model.data_preprocessor.type == \
            'MultiBranchSegDataPreprocessor'
    # the schedulers end at train_cfg.max_iters (the Runner's default end)
    assert all('end' not in s for s in cfg.param_scheduler)

"""``set_data_root``: one override moves every loader's datasets."""
import os.path as osp

import pytest
from mmengine.config import Config

import mmsemi  # noqa: F401  (mmsemi:: and mmseg:: bases)
from mmsemi.utils import set_data_root
from mmsemi.utils.data_root import datasets_of

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STOCK = osp.join(REPO_ROOT, 'configs', 'stock',
                 'unimatch_pspnet_r101-d8_4xb2+2-80e_voc12aug-1-16-513x513.py')


def test_every_dataset_of_every_loader_moves():
    cfg = Config.fromfile(STOCK)
    roots = {d['data_root'] for loader in ('train_dataloader',
                                           'val_dataloader', 'test_dataloader')
             for d in datasets_of(cfg[loader].dataset)}
    assert roots == {'data/VOCdevkit/VOC2012'}
    # labeled + unlabeled (ConcatDataset), val, test
    assert set_data_root(cfg, '/d/VOC2012') == 4
    train = datasets_of(cfg.train_dataloader.dataset)
    assert [d['data_root'] for d in train] == ['/d/VOC2012'] * 2
    assert cfg.val_dataloader.dataset.data_root == '/d/VOC2012'
    assert cfg.test_dataloader.dataset.data_root == '/d/VOC2012'
    # split files stay relative to the root, so they move with it
    assert train[0]['split_file'] == '../../splits/pascal/1_16/labeled.txt'


def test_wrappers_are_walked():
    nested = dict(type='RepeatDataset', times=2, dataset=dict(
        type='ConcatDataset', datasets=[dict(type='A', data_root='x'),
                                        dict(type='B', data_root='y')]))
    assert [d['type'] for d in datasets_of(nested)] == ['A', 'B']


def test_config_without_data_root_is_an_error():
    cfg = Config(dict(train_dataloader=dict(dataset=dict(type='A'))))
    with pytest.raises(KeyError, match='no dataset'):
        set_data_root(cfg, '/d')

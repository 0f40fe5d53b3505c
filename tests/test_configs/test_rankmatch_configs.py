"""configs/rankmatch: every split and crop of the paper's tables for
ResNet-50 and ResNet-101, with the official recipe of each dataset."""
import glob
import os.path as osp
import warnings

import pytest
from mmengine.config import Config

from mmseg.registry import MODELS

import mmsemi  # noqa: F401
from mmsemi.models.segmentors.semi_base import (merge_method_cfg,
                                                rename_deprecated_keys)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(ROOT, 'configs', 'rankmatch')
# config name part -> split folder
SETTINGS = {
    **{f'80e_voc12-classic{s}-513x513': f'pascal/{s}'
       for s in (92, 183, 366, 732, 1464)},
    **{f'80e_voc12-blended1-{s}-513x513': f'pascal/1_{s}'
       for s in (16, 8, 4)},
    **{f'240e_cityscapes-1-{s}-801x801': f'cityscapes/1_{s}'
       for s in (16, 8, 4, 2)},
}
CASES = [(depth, setting) for depth in (50, 101) for setting in SETTINGS]


def _path(depth, setting):
    return osp.join(CONFIG_DIR, f'rankmatch_r{depth}-d16_4xb2+2-{setting}.py')


def test_exactly_the_paper_settings_are_shipped():
    expected = {_path(d, s) for d, s in CASES}
    # (and one DINOv2 student, see test_recipe_configs.py)
    assert set(glob.glob(osp.join(CONFIG_DIR, 'rankmatch_r*.py'))) == expected


@pytest.mark.parametrize('depth,setting', CASES)
def test_config_follows_the_official_recipe(depth, setting):
    cfg = Config.fromfile(_path(depth, setting))
    seg = cfg.model.segmentor
    assert cfg.model.type == 'RankMatch'
    assert seg.backbone.depth == depth
    assert f'resnet{depth}_deepstem' in seg.pretrained
    assert seg.backbone.strides == (1, 2, 2, 1)  # output stride 16
    assert seg.decode_head.type == 'SemiDeepLabV3PlusHead'
    train = cfg.model.semi_train_cfg
    model = MODELS.get('RankMatch')
    with warnings.catch_warnings():  # deprecated names resolve silently
        warnings.simplefilter('ignore', FutureWarning)
        resolved = merge_method_cfg(
            model.default_train_cfg,
            rename_deprecated_keys(train, model.deprecated_train_cfg_keys,
                                   'semi_train_cfg'))
    assert resolved['rank_loss'] == dict(
        type='RankAwareKLLoss', num_agents=128, topk=4, reduction='official',
        log_space=False, eps=1e-10)
    assert resolved['rank_weight'] == 0.1
    # the official computation is the code default, which the configs
    # inherit from UniMatch's recipe without restating it
    assert 'rank_loss' not in train
    if 'cityscapes' in setting:
        assert cfg.crop_size == (801, 801)
        assert train.conf_thresh == 0.0  # the Cityscapes recipe
        assert seg.decode_head.sampler == dict(
            type='OHEMPixelSampler', thresh=0.7, min_kept=100000)
        assert cfg.optim_wrapper.optimizer.lr == 0.005
    else:
        assert cfg.crop_size == (513, 513)
        assert train.get('conf_thresh',
                         model.default_train_cfg['conf_thresh']) == 0.95
        assert 'sampler' not in seg.decode_head
        assert cfg.optim_wrapper.optimizer.lr == 0.001
    labeled, unlabeled = cfg.train_dataloader.dataset.datasets
    assert labeled.split_file.endswith(f'/{SETTINGS[setting]}/labeled.txt')
    assert unlabeled.split_file.endswith(
        f'/{SETTINGS[setting]}/unlabeled.txt')
    assert 'end' not in cfg.param_scheduler[0]  # ends at max_iters


def test_toy_config_uses_the_official_computation():
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'toy',
                                   'rankmatch_r18s_toyshapes-1_16.py'))
    # the code default, the toy changing only the number of agents
    assert cfg.model.semi_train_cfg.rank_loss == dict(num_agents=32)
    rank = dict(MODELS.get('RankMatch').default_train_cfg['rank_loss'],
                **cfg.model.semi_train_cfg.rank_loss)
    assert rank['log_space'] is False and rank['eps'] == 1e-10
    assert rank['reduction'] == 'official' and rank['topk'] == 4

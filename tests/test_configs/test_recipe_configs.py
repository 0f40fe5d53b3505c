"""The method configs (configs/<method>) and the stock-model configs
(configs/stock) of a method on a dataset resolve to the same recipe: the
same effective ``semi_train_cfg`` (the code defaults merged with the
config's, nested dicts key by key), the same optimiser and parameter
schedulers (configs that keep a stock model's own optimiser aside), the
same hooks and the same lr batch. Both inherit it from
configs/_base_/recipes/<method>_<data>.py."""
import glob
import json
import os.path as osp
import sys
from collections import defaultdict

import pytest
from mmengine.config import Config

import mmsemi  # noqa: F401

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _effective import effective_train_cfg  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: Method configs that are a documented variant of the recipe, not the
#: recipe itself: CSS's cross pseudo-labels.
VARIANTS = ('css-cross_', )


def _dataset(cfg):
    root = cfg.train_dataloader.dataset.datasets[0].data_root
    return 'cityscapes' if 'cityscapes' in root else 'voc'


def _recipe(cfg):
    """What a config takes from its recipe, as the Runner sees it."""
    model = cfg.model
    recipe = dict(
        type=model.type,
        semi_train_cfg=effective_train_cfg(model),
        semi_test_cfg=model.get('semi_test_cfg'),
        custom_hooks=cfg.get('custom_hooks') or [],
        auto_scale_lr=cfg.auto_scale_lr)
    if cfg.optim_wrapper.optimizer.type == 'SGD':  # the methods' recipes
        recipe.update(optim_wrapper=cfg.optim_wrapper,
                      param_scheduler=cfg.param_scheduler)
    return json.loads(json.dumps(recipe, default=list))


def _groups():
    groups = defaultdict(lambda: dict(method=[], stock=[]))
    for path in sorted(glob.glob(osp.join(ROOT, 'configs', '*', '*.py'))):
        family = osp.basename(osp.dirname(path))
        name = osp.basename(path)
        if family in ('_base_', 'toy', 'supervised') or \
                name.startswith(VARIANTS):
            continue
        cfg = Config.fromfile(path)
        kind = 'stock' if family == 'stock' else 'method'
        groups[(cfg.model.type, _dataset(cfg))][kind].append((name, cfg))
    return groups


GROUPS = _groups()


def test_every_method_has_stock_configs_on_voc():
    methods = {method for method, data in GROUPS if data == 'voc'}
    assert methods == {'UniMatch', 'CorrMatch', 'RankMatch', 'U2PL', 'CSS'}
    for (method, data), group in GROUPS.items():
        if data == 'voc':
            assert group['method'] and group['stock'], method


@pytest.mark.parametrize('key', sorted(GROUPS), ids='-'.join)
def test_method_and_stock_configs_share_the_recipe(key):
    group = GROUPS[key]
    configs = group['method'] + group['stock']
    reference_name, reference = configs[0]
    expected = _recipe(reference)
    for name, cfg in configs[1:]:
        got = _recipe(cfg)
        for part in expected:
            if part in got:
                assert got[part] == expected[part], (name, reference_name,
                                                     part)
    # the stock configs with a stock optimiser keep it, the others share
    # the recipe's
    assert any('optim_wrapper' in _recipe(cfg) for _, cfg in configs)

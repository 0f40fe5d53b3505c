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
    return next((name for name in ('cityscapes', 'ade', 'coco')
                 if name in root), 'voc')


def _recipe(cfg):
    """What a config takes from its recipe, as the Runner sees it."""
    model = cfg.model
    recipe = dict(
        type=model.type,
        semi_train_cfg=effective_train_cfg(model),
        semi_test_cfg=model.get('semi_test_cfg'),
        custom_hooks=cfg.get('custom_hooks') or [],
        auto_scale_lr=cfg.auto_scale_lr)
    # the recipe's optimiser: SGD for the ResNet recipes, AdamW for
    # UniMatch V2 (the other methods' DINOv2 configs take V2's, compared in
    # test_dinov2_students_take_the_vit_recipe)
    resnet_recipe = cfg.optim_wrapper.optimizer.type == 'SGD' and \
        cfg.model.segmentor.backbone.type != 'DINOv2'
    if resnet_recipe or model.type == 'UniMatchV2':
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


#: Methods without stock-model configs: UniMatch V2's recipe (AdamW at
#: lr 5e-6, patch-14 crops) is for ViT encoders; its student is the DINOv2
#: model base, whose size variants its configs swap.
METHOD_ONLY = {'UniMatchV2'}


def test_every_method_has_stock_configs_on_voc():
    methods = {method for method, data in GROUPS if data == 'voc'}
    assert methods == {'UniMatch', 'CorrMatch', 'RankMatch', 'U2PL', 'CSS',
                       'UniMatchV2'}
    for (method, data), group in GROUPS.items():
        if data == 'voc':
            assert group['method'], method
            assert bool(group['stock']) == (method not in METHOD_ONLY), \
                method


def test_dinov2_students_take_the_vit_recipe():
    """The other methods' DINOv2 configs: UniMatch V2's optimiser and
    schedule, their own method recipe (checked above)."""
    v2 = GROUPS[('UniMatchV2', 'voc')]['method'][0][1]
    students = [(name, cfg) for (method, _), group in GROUPS.items()
                if method != 'UniMatchV2' for name, cfg in group['method']
                if cfg.model.segmentor.backbone.type == 'DINOv2']
    assert len(students) == 5
    for name, cfg in students:
        assert cfg.optim_wrapper == v2.optim_wrapper, name
        assert cfg.param_scheduler == v2.param_scheduler, name


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
    if key[0] not in METHOD_ONLY:
        assert group['stock'] or key[1] != 'voc', key

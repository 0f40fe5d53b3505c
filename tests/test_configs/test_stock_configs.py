"""configs/stock: full stock mmseg configs wrapped by a method, the
`mmsemi::` base references they use, and the inheritance recipe of the
README ("Using a stock mmseg config")."""
import copy
import glob
import os.path as osp
import re
import sys
from typing import Any, Dict, List

import pytest
import torch.nn as nn
from mmengine.config import Config
from mmengine.runner import Runner

from mmseg.registry import MODELS

import mmsemi  # noqa: F401  (registers the `mmsemi::` lookup)
from mmsemi.utils import config_lookup
from mmsemi.utils.config_lookup import (configs_dir, register_config_lookup,
                                        resolve_config)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _effective import effective_train_cfg  # noqa: E402
from _run_schedule import build_param_schedulers  # noqa: E402
STOCK_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'stock', '*.py')))
METHODS = {'unimatch': 'UniMatch', 'corrmatch': 'CorrMatch', 'u2pl': 'U2PL',
           'css': 'CSS', 'rankmatch': 'RankMatch'}
FAMILIES = {
    'pspnet': 'PSPHead',
    'upernet': 'UPerHead',
    'segformer': 'SegformerHead',
    'deeplabv3': 'ASPPHead',
    'deeplabv3plus': 'DepthwiseSeparableASPPHead',
}
README = osp.join(ROOT, 'README.md')
README_SECTION = '## Using a stock mmseg config'
#: mmsemi's hooks every route must have (configs/_base_/semi/
#: semi_default_hooks.py), by default_hooks key.
SAFETY_HOOKS = {'check_labels': 'CheckDatasetLabelsHook',
                'finite_loss': 'FiniteLossHook',
                'pseudo_labels': 'PseudoLabelVisualizationHook'}
METHOD_HOOKS = {'U2PL': ['EMATeacherHook'], 'CSS': ['EMATeacherHook'],
                'CorrMatch': ['DynamicThresholdHook'], 'UniMatch': [],
                'RankMatch': []}


def readme_snippet() -> str:
    """The config of README's "Using a stock mmseg config": the first
    python block of that section, read from README.md so that the tested
    text is the text users copy."""
    with open(README) as f:
        text = f.read()
    assert f'\n{README_SECTION}\n' in text, README_SECTION
    section = text.split(f'\n{README_SECTION}\n', 1)[1].split('\n## ')[0]
    match = re.search(r'```python\n(.*?)```', section, re.S)
    assert match, f'no python block in README section {README_SECTION!r}'
    return match.group(1)


def _readme_recipe(stock: str) -> str:
    """The README snippet with its stock mmseg config replaced."""
    snippet = readme_snippet()
    refs = re.findall(r"'mmseg::([^']+)'", snippet)
    assert len(refs) == 1, refs
    return snippet.replace(f'mmseg::{refs[0]}', f'mmseg::{stock}')


def _stock_reference(path: str) -> str:
    """The `mmseg::...` entry of a configs/stock config's `_base_`."""
    refs = [
        ref for ref in Config._get_base_files(path)
        if ref.startswith('mmseg::')
    ]
    assert len(refs) == 1, (path, refs)
    return refs[0]


def _load_stock(reference: str) -> Config:
    stock_path, _ = Config._get_cfg_path(reference, '<test>')
    return Config.fromfile(stock_path)


def _plain(cfg: Any) -> Any:
    """A config value as plain dicts/lists without mmengine's `_scope_`."""
    if hasattr(cfg, 'to_dict'):
        cfg = cfg.to_dict()
    if isinstance(cfg, dict):
        return {k: _plain(v) for k, v in cfg.items() if k != '_scope_'}
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(_plain(v) for v in cfg)
    return cfg


def _offline(model_cfg: Dict) -> Dict:
    """No downloads (pretrained/init_cfg off) and BN instead of SyncBN."""
    model_cfg = copy.deepcopy(model_cfg)
    seg = model_cfg['segmentor']
    seg['pretrained'] = None
    seg['backbone'].pop('init_cfg', None)
    for part in ('backbone', 'decode_head', 'auxiliary_head'):
        if isinstance(seg.get(part), dict) and 'norm_cfg' in seg[part]:
            seg[part]['norm_cfg'] = dict(type='BN', requires_grad=True)
    return model_cfg


def _method_and_family(path: str) -> List[str]:
    method, family = osp.basename(path).split('_')[:2]
    return [method, family]


# Methods with one example (the other families are covered by the
# tests/test_tools/test_stock_segmentors_train.py runs).
SINGLE_EXAMPLE = {'css': 'deeplabv3plus'}


def test_one_config_per_family_and_method():
    found = {tuple(_method_and_family(p)) for p in STOCK_CONFIGS}
    expected = {(m, f) for m in METHODS for f in FAMILIES
                if SINGLE_EXAMPLE.get(m, f) == f}
    assert found == expected
    assert len(STOCK_CONFIGS) == len(expected) == 21


@pytest.mark.parametrize('path', STOCK_CONFIGS, ids=osp.basename)
def test_stock_config_wraps_stock_model_and_keeps_evaluation(path):
    cfg = Config.fromfile(path)
    stock = _load_stock(_stock_reference(path))
    method, family = _method_and_family(path)

    assert cfg.model.type == METHODS[method]
    assert cfg.default_scope == 'mmseg'
    assert cfg.custom_imports['imports'] == ['mmsemi']
    # The segmentor is the stock model; only its training padding follows
    # the method's crop.
    segmentor = _plain(cfg.model.segmentor)
    expected = _plain(stock.model)
    expected['data_preprocessor']['size'] = cfg.semi_crop_size
    assert segmentor == expected
    assert segmentor['decode_head']['type'] == FAMILIES[family]
    # Evaluation is the stock config's.
    for key in ('val_dataloader', 'test_dataloader', 'val_evaluator',
                'test_evaluator', 'val_cfg', 'test_cfg'):
        assert _plain(cfg[key]) == _plain(stock[key]), key


@pytest.mark.parametrize('path', STOCK_CONFIGS, ids=osp.basename)
def test_stock_config_trains_semi_supervised(path):
    cfg = Config.fromfile(path)
    loader = cfg.train_dataloader
    # `_delete_` replaced the stock loader: nothing of it is left.
    assert loader.sampler == dict(
        type='LabeledUnlabeledSampler',
        batch_size=loader.batch_size,
        source_ratio=[1, 1])
    labeled, unlabeled = loader.dataset.datasets
    assert loader.dataset.type == 'ConcatDataset'
    assert labeled.type == unlabeled.type == cfg.semi_dataset_type
    assert labeled.split_file.endswith('/labeled.txt')
    assert unlabeled.split_file.endswith('/unlabeled.txt')
    assert unlabeled.with_label is False
    assert osp.normpath(labeled.data_root) == osp.normpath(
        cfg.val_dataloader.dataset.data_root)
    crops = [
        t['crop_size'] for t in labeled.pipeline + unlabeled.pipeline
        if t['type'] == 'RandomCrop'
    ]
    assert crops == [cfg.semi_crop_size] * 2

    assert cfg.train_cfg.type == 'SemiIterBasedTrainLoop'
    assert cfg.train_cfg.max_iters == cfg.semi_max_iters
    # the decay ends where the Runner ends a scheduler without `end`
    assert 'end' not in cfg.param_scheduler[-1]
    assert build_param_schedulers(
        cfg, cfg.train_cfg.max_iters)[-1].end == cfg.semi_max_iters
    hooks = [h['type'] for h in cfg.custom_hooks]
    if cfg.model.type == 'CSS':
        assert hooks == ['EMATeacherHook']
        # lambda_c's epoch: the run's labeled loader
        assert cfg.model.semi_train_cfg.get('iters_per_epoch') is None
    elif cfg.model.type == 'U2PL':
        assert hooks == ['EMATeacherHook']
        # the EMA starts after the model's warm-up; length and epoch come
        # from the run
        assert 'begin_iter' not in cfg.custom_hooks[0]
        assert cfg.model.semi_train_cfg.get('max_iters') is None
        assert cfg.model.semi_train_cfg.get('iters_per_epoch') is None
    elif cfg.model.type == 'CorrMatch':
        assert hooks == ['DynamicThresholdHook']
    else:
        assert hooks == []


def _train_cfg(cfg):
    return effective_train_cfg(cfg.model)


def test_stock_config_hyper_parameters_are_the_methods():
    """Spot checks against the method configs of configs/<method>."""
    voc = {
        osp.basename(p).split('_')[0]: Config.fromfile(p)
        for p in STOCK_CONFIGS if '_pspnet_' in p
    }
    assert _train_cfg(voc['unimatch'])['conf_thresh'] == 0.95
    assert voc['unimatch'].train_dataloader.batch_size == 4
    assert voc['u2pl'].train_dataloader.batch_size == 8
    assert _train_cfg(voc['corrmatch'])['conf_thresh_init'] == 0.85
    assert _train_cfg(voc['rankmatch'])['conf_thresh'] == 0.95
    # every stock RankMatch config: the official probability-space loss
    for path in (p for p in STOCK_CONFIGS
                 if osp.basename(p).startswith('rankmatch_')):
        train_cfg = _train_cfg(Config.fromfile(path))
        assert train_cfg['rank_loss'] == dict(
            type='RankAwareKLLoss', num_agents=128, topk=4,
            reduction='official', log_space=False, eps=1e-10), path
        assert train_cfg['rank_weight'] == 0.1, path
    for name, cfg in voc.items():
        assert cfg.optim_wrapper.optimizer == dict(
            type='SGD', lr=0.001, momentum=0.9, weight_decay=1e-4), name
        keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
        assert keys['decode_head'] == keys['auxiliary_head'] == dict(
            lr_mult=10.0)
    segformer = Config.fromfile(
        next(p for p in STOCK_CONFIGS if 'unimatch_segformer' in p))
    assert _train_cfg(segformer)['conf_thresh'] == 0.0
    assert segformer.optim_wrapper.optimizer.type == 'AdamW'
    assert [s['type'] for s in segformer.param_scheduler] == [
        'LinearLR', 'PolyLR'
    ]


@pytest.mark.parametrize('path', STOCK_CONFIGS, ids=osp.basename)
def test_stock_config_builds(path):
    cfg = Config.fromfile(path)
    model_cfg = _offline(cfg.model.to_dict())
    model = MODELS.build(model_cfg)
    assert isinstance(model, nn.Module)
    head = model.student.decode_head
    assert type(head).__name__ == cfg.model.segmentor.decode_head.type
    assert head.num_classes == cfg.semi_num_classes


def test_user_config_inheriting_full_stock_config(tmp_path):
    """The acceptance case: a user's file outside the repository lists a
    full stock mmseg config and an mmsemi base (no duplicate keys) and
    wraps the model."""
    stock = 'deeplabv3plus/deeplabv3plus_r50-d8_4xb4-20k_voc12aug-512x512.py'
    path = tmp_path / 'my_unimatch.py'
    path.write_text(_readme_recipe(stock))
    cfg = Config.fromfile(str(path))
    stock_cfg = _load_stock(f'mmseg::{stock}')
    assert cfg.model.type == 'UniMatch'
    assert cfg.model.segmentor.backbone == stock_cfg.model.backbone
    assert cfg.model.segmentor.backbone.depth == 50
    assert cfg.train_dataloader.sampler.type == 'LabeledUnlabeledSampler'
    assert _plain(cfg.val_dataloader) == _plain(stock_cfg.val_dataloader)
    assert cfg.train_cfg.type == 'SemiIterBasedTrainLoop'
    assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=16)
    model = MODELS.build(_offline(cfg.model.to_dict()))
    assert type(model).__name__ == 'UniMatch'


def _runner_hooks(cfg: Config, work_dir: str) -> List[Any]:
    """The hooks mmengine's Runner registers from the config's
    ``default_hooks`` and ``custom_hooks``, in call order (a 1x1 conv
    stands in for the segmentor; nothing is built from data)."""
    runner = Runner(
        model=nn.Conv2d(1, 1, 1),
        work_dir=work_dir,
        default_hooks=cfg.default_hooks,
        custom_hooks=cfg.get('custom_hooks'),
        visualizer=cfg.visualizer,
        default_scope=cfg.default_scope,
        experiment_name=f'hooks_{osp.basename(osp.dirname(work_dir))}')
    return runner.hooks


def _assert_safety_and_method_hooks(cfg: Config, work_dir: str) -> None:
    """mmsemi's three hooks, the method's own and the stock ones, in the
    resolved config and in the Runner's hooks."""
    for key, hook in SAFETY_HOOKS.items():
        assert cfg.default_hooks[key]['type'] == hook, key
    hooks = _runner_hooks(cfg, work_dir)
    names = [type(hook).__name__ for hook in hooks]
    by_name = dict(zip(names, hooks))
    assert set(SAFETY_HOOKS.values()) <= set(names), names
    assert by_name['CheckDatasetLabelsHook'].enabled
    assert by_name['FiniteLossHook'].enabled
    assert by_name['FiniteLossHook'].check_model_state
    assert not by_name['PseudoLabelVisualizationHook'].enabled  # opt-in
    assert names.index('FiniteLossHook') < names.index('CheckpointHook')
    method_hooks = [n for n in names
                    if n in ('EMATeacherHook', 'DynamicThresholdHook')]
    assert method_hooks == METHOD_HOOKS[cfg.model.type]
    # the stock runtime hooks are kept
    assert {'IterTimerHook', 'LoggerHook', 'ParamSchedulerHook',
            'CheckpointHook', 'DistSamplerSeedHook',
            'SegVisualizationHook'} <= set(names)


def test_readme_snippet_loads_with_safety_and_method_hooks(tmp_path):
    """The README's snippet, as printed, is a config that trains UniMatch
    on the stock model with mmsemi's label check, NaN guard and
    pseudo-label pictures."""
    path = tmp_path / 'my_config.py'
    path.write_text(readme_snippet())
    cfg = Config.fromfile(str(path))
    assert cfg.model.type == 'UniMatch'
    assert cfg.train_cfg.type == 'SemiIterBasedTrainLoop'
    _assert_safety_and_method_hooks(cfg, str(tmp_path / 'work'))


@pytest.mark.parametrize('path', STOCK_CONFIGS, ids=osp.basename)
def test_stock_config_has_safety_and_method_hooks(path, tmp_path):
    _assert_safety_and_method_hooks(Config.fromfile(path),
                                    str(tmp_path / 'work'))


def test_stock_configs_end_like_the_readme_snippet():
    """Every configs/stock config wraps its stock config with the
    snippet's lines after `_base_` (SegFormer keeps its stock optimiser
    and warm-up, `stock_schedule=True`, see configs/stock/README.md)."""
    snippet_lines = set(_body_lines(readme_snippet()))
    for path in STOCK_CONFIGS:
        with open(path) as f:
            body = _body_lines(f.read())
        expected = set(snippet_lines)
        if '_segformer_' in path:
            expected = {line.replace('(_base_)',
                                     '(_base_, stock_schedule=True)')
                        for line in expected}
        assert expected <= set(body), (path, expected - set(body))


def _body_lines(text: str) -> List[str]:
    """Assignments after `_base_`, comments and line continuations
    dropped (one entry per statement start)."""
    body = text.split(']\n', 1)[1]
    return [line.split('#')[0].rstrip() for line in body.splitlines()
            if line and not line.startswith((' ', '#', ')', ']'))]


def test_mmsemi_reference_equals_relative_reference(tmp_path):
    """`mmsemi::x` resolves to the clone's configs/x and, like a relative
    base, adds no registry scope."""
    base = 'semi_unimatch_voc12aug.py'
    by_package = tmp_path / 'by_package.py'
    by_package.write_text(f"_base_ = ['mmsemi::_base_/semi/{base}']\n")
    by_path = tmp_path / 'by_path.py'
    by_path.write_text(
        f"_base_ = [{osp.join(ROOT, 'configs', '_base_', 'semi', base)!r}]\n")
    assert configs_dir() == osp.join(ROOT, 'configs')
    assert Config.fromfile(str(by_package)).to_dict() == \
        Config.fromfile(str(by_path)).to_dict()


def test_missing_mmsemi_reference_names_config_and_reference(tmp_path):
    path = tmp_path / 'broken.py'
    path.write_text("_base_ = ['mmsemi::_base_/semi/no_such_base.py']\n")
    with pytest.raises(FileNotFoundError) as err:
        Config.fromfile(str(path))
    message = str(err.value)
    assert str(path) in message
    assert 'mmsemi::_base_/semi/no_such_base.py' in message
    with pytest.raises(FileNotFoundError, match='no_such_base'):
        resolve_config('mmsemi::no_such_base.py')


def test_config_lookup_is_registered_once():
    wrapped = Config._get_cfg_path
    assert register_config_lookup() is True
    assert register_config_lookup() is True
    assert Config._get_cfg_path is wrapped
    original = getattr(wrapped, config_lookup._WRAPPED_ATTR)
    # One wrapper around mmengine's function, not a stack of wrappers.
    assert not hasattr(original, config_lookup._WRAPPED_ATTR)


def _touch(path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('')


def test_configs_dir_source_tree_or_installed(tmp_path):
    # Regular install: site-packages/mmsemi/.mim/configs.
    site_pkg = tmp_path / 'site' / 'mmsemi'
    (site_pkg / '.mim' / 'configs' / '_base_').mkdir(parents=True)
    assert configs_dir(str(site_pkg)) == str(site_pkg / '.mim' / 'configs')
    # Source tree: the clone's configs win over a stale mmsemi/.mim copy.
    clone_pkg = tmp_path / 'clone' / 'mmsemi'
    _touch(tmp_path / 'clone' / 'setup.py')
    (tmp_path / 'clone' / 'configs' / '_base_').mkdir(parents=True)
    (clone_pkg / '.mim' / 'configs' / '_base_').mkdir(parents=True)
    assert configs_dir(str(clone_pkg)) == str(tmp_path / 'clone' / 'configs')
    # Neither: the error names both places.
    bare = tmp_path / 'bare' / 'mmsemi'
    bare.mkdir(parents=True)
    with pytest.raises(FileNotFoundError) as err:
        configs_dir(str(bare))
    assert str(bare / '.mim' / 'configs') in str(err.value)

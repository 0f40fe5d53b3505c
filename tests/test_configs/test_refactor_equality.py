"""Nothing changed by accident in the config refactor (one recipe per
method, schedule lengths from the run).

Every shipped config resolves (``Config.fromfile(p).to_dict()``) to the
snapshot taken before the refactor (``snapshot/resolved_configs.json``,
see ``_snapshot.py``) except for the intended differences below, each
checked for what makes it harmless; every toy config's seeded training
step gives the snapshot's losses to 1e-6.

Intended differences (also listed in configs/README.md):

- ``param_scheduler[i].end`` / ``semi_param_scheduler[i].end`` removed:
  mmengine's Runner ends such a scheduler at ``train_cfg.max_iters``; the
  schedulers the Runner builds end where the old ones did.
- top-level ``max_iters``, ``val_interval``, ``iters_per_epoch``,
  ``sup_only_iters`` (and their ``semi_`` forms) removed: helper
  variables, not read by the Runner; the lengths live in ``train_cfg``.
- U2PL ``semi_train_cfg.max_iters`` removed: the loop gives the model
  ``train_cfg.max_iters``.
- U2PL / CSS ``semi_train_cfg.iters_per_epoch`` removed: the loop gives the
  model the per-process unlabeled (U2PL) / labeled (CSS) epoch of its
  loader; checked on stand-in sets of the split's sizes and the config's
  GPU count. The toy U2PL states ``iters_per_epoch=1`` (the continuous
  progress it had without the key).
- U2PL ``semi_train_cfg.sup_only_iters`` removed, ``sup_only_epochs``
  added: ``sup_only_epochs`` epochs of ``iters_per_epoch`` iterations.
- ``EMATeacherHook.begin_iter`` removed: the hook starts after the model's
  supervised-only phase (U2PL's ``sup_only_iters``, else 0).
- ``semi_train_cfg`` keys removed whose value is the code default
  (``default_train_cfg``; nested dicts merged key by key): the recipe
  bases state only what a dataset changes.
- ``semi_model``, ``semi_optim_wrapper``, ``semi_param_scheduler``,
  ``semi_custom_hooks``, ``semi_auto_scale_lr`` added to method configs:
  the recipe base's keys, not read by the Runner.
- ``optim_wrapper.paramwise_cfg.custom_keys.auxiliary_head`` added to
  method configs (the recipe names every head): their segmentor has no
  auxiliary head, or its multiplier is 1.0 (no effect either way);
  CSS's ``paramwise_cfg`` of lr multipliers 1.0 removed (no effect).
- ``custom_hooks`` ``None`` -> ``[]`` (no hooks either way).
- deprecated ``semi_train_cfg`` names replaced by their current names
  (CorrMatch's Cityscapes ``fixed_thresh`` -> ``conf_thresh``): the same
  effective value.
- toy configs' top-level ``labeled_dataset`` / ``unlabeled_dataset`` (the
  templates the train loader's datasets are made from) hold the method's
  branches, as the train loader's datasets always did.
"""
import json
import math
import os.path as osp
import re
import sys

import pytest
import torch

from mmseg.registry import MODELS

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, HERE)
from _effective import effective  # noqa: E402
from _run_schedule import build_param_schedulers, epoch_lengths  # noqa: E402
from _snapshot import (CONFIGS_FILE, LOSSES_FILE, REPO_ROOT,  # noqa: E402
                       resolve, shipped_configs, toy_step_losses)

with open(CONFIGS_FILE) as f:
    SNAPSHOT = json.load(f)

#: Training images per data root: VOC 2012 aug, Cityscapes, ToyShapes.
TRAIN_SIZES = {'data/VOCdevkit/VOC2012': 10582, 'data/cityscapes': 2975,
               'data/toyshapes': 2000}
#: Labeled images per split folder (data/splits/..., data/toyshapes/splits).
LABELED = {
    ('data/VOCdevkit/VOC2012', name): int(name.split('_')[-1])
    for name in ('92', '183', '366', '732', '1464', 'u2pl_92', 'u2pl_183',
                 'u2pl_366', 'u2pl_732', 'u2pl_1464')
}
LABELED.update({
    ('data/VOCdevkit/VOC2012', f'{prefix}1_{n}'): size
    for prefix in ('', 'u2pl_')
    for n, size in ((16, 662), (8, 1323), (4, 2646), (2, 5291))
})
LABELED.update({('data/cityscapes', name): int(name)
                for name in ('186', '372', '744', '1488')})
LABELED.update({('data/cityscapes', f'1_{n}'): size
                for n, size in ((16, 186), (8, 372), (4, 744), (2, 1488))})
LABELED[('data/toyshapes', '1_16')] = 125
#: Keys a refactored config may add, with the check that makes each one
#: harmless (``new`` and ``old`` are the resolved configs).
RECIPE_KEYS = ('semi_model', 'semi_optim_wrapper', 'semi_param_scheduler',
               'semi_custom_hooks', 'semi_auto_scale_lr')
#: semi_train_cfg keys the run fills (checked on their own).
RUN_KEYS = ('max_iters', 'iters_per_epoch', 'sup_only_iters',
            'sup_only_epochs')
HELPER_KEYS = ('max_iters', 'val_interval', 'iters_per_epoch',
               'sup_only_iters', 'semi_iters_per_epoch',
               'semi_sup_only_iters')


def _get(cfg, path):
    value = cfg
    for part in re.findall(r'[^.\[\]]+', path):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def diff(old, new, path=''):
    """``(kind, path)`` for every key added (+), removed (-) or changed (~)
    between two resolved configs."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new)):
            sub = f'{path}.{key}' if path else key
            if key not in old:
                out.append(('+', sub))
            elif key not in new:
                out.append(('-', sub))
            else:
                out += diff(old[key], new[key], sub)
        return out
    if isinstance(old, list) and isinstance(new, list) and \
            len(old) == len(new):
        return [d for i, (a, b) in enumerate(zip(old, new))
                for d in diff(a, b, f'{path}[{i}]')]
    return [] if old == new else [('~', path)]


def _current_name(renames, key):
    """The current name of a ``semi_train_cfg`` key (itself unless it is
    a deprecated name)."""
    target = renames.get(key, key)
    return target[0] if isinstance(target, tuple) else target


def _world_size(relpath):
    match = re.search(r'_(\d+)xb\d+', osp.basename(relpath))
    return int(match.group(1)) if match else 1


def _split_sizes(cfg):
    """(labeled, unlabeled) images of the config's split."""
    labeled = cfg['train_dataloader']['dataset']['datasets'][0]
    root = labeled['data_root']
    num_labeled = LABELED[(root, labeled['split_file'].split('/')[-2])]
    return num_labeled, TRAIN_SIZES[root] - num_labeled


class Check:
    """The checks of one config's differences."""

    def __init__(self, relpath, old, new):
        self.relpath, self.old, self.new = relpath, old, new

    def model_type(self, prefix):
        return _get(self.new, f'{prefix}.type')

    def run_epoch(self, prefix):
        """The epoch the loop gives the model (U2PL: unlabeled, CSS:
        labeled) on the config's split and GPU count."""
        if self.relpath.startswith('stock/'):
            cfg = dict(self.new, train_dataloader=self.new[
                'semi_train_dataloader'])
        else:
            cfg = self.new
        from mmengine.config import Config
        cfg = Config(cfg)
        lengths = epoch_lengths(cfg, *_split_sizes(cfg),
                                world_size=_world_size(self.relpath))
        kind = 'unlabeled' if self.model_type(prefix) == 'U2PL' else \
            'labeled'
        return lengths[f'{kind}_epoch']

    def template(self, path):
        """A toy config's top-level dataset templates now hold the
        method's pipelines, as its train loader's datasets always did."""
        m = re.match(r'(un)?labeled_dataset\.', path)
        if not (m and self.relpath.startswith('toy/')):
            return False
        index = 1 if m.group(1) else 0
        loader = self.new['train_dataloader']['dataset']['datasets'][index]
        assert self.new[path.split('.')[0]] == loader, path
        return True

    def renamed(self, prefix, key):
        """Whether ``key`` replaces a deprecated name the old config used,
        with the same effective value."""
        model = MODELS.get(self.model_type(prefix))
        renames = model.deprecated_train_cfg_keys
        old_train = _get(self.old, f'{prefix}.semi_train_cfg')
        if not any(_current_name(renames, old) == key and old in old_train
                   for old in renames):
            return False
        before = effective(model.default_train_cfg, old_train, renames)
        after = effective(model.default_train_cfg,
                          _get(self.new, f'{prefix}.semi_train_cfg'),
                          renames)
        assert before[key] == after[key], (prefix, key)
        return True

    def removed(self, path):  # noqa: C901
        old, new, value = self.old, self.new, _get(self.old, path)
        m = re.fullmatch(r'(semi_)?param_scheduler\[(\d+)\]\.end', path)
        if m:
            length = new['semi_max_iters'] if m.group(1) else \
                new['train_cfg']['max_iters']
            assert value == length
            if not m.group(1):
                from mmengine.config import Config
                built = build_param_schedulers(Config(new), length)
                assert built[int(m.group(2))].end == value
            return
        if path in HELPER_KEYS:
            return
        m = re.fullmatch(r'((semi_)?model)\.semi_train_cfg(?:\.(\w+))?(.*)',
                         path)
        if m:
            prefix, key = m.group(1), m.group(3)
            old_train = _get(old, f'{prefix}.semi_train_cfg')
            new_train = new.get(prefix, {}).get('semi_train_cfg', {})
            if key == 'max_iters':
                length = new['semi_max_iters'] if prefix == 'semi_model' \
                    else new['train_cfg']['max_iters']
                assert value == length
            elif key == 'iters_per_epoch':
                assert value == self.run_epoch(prefix), path
            elif key == 'sup_only_iters':
                epochs = new_train['sup_only_epochs']
                assert value == epochs * old_train['iters_per_epoch']
            else:  # a code default (a nested key, or the whole dict)
                model = MODELS.get(self.model_type(prefix))
                renames = model.deprecated_train_cfg_keys
                before = effective(model.default_train_cfg, old_train,
                                   renames)
                after = effective(model.default_train_cfg, new_train,
                                  renames)
                key = _current_name(renames, key)
                keys = [key] if key else [
                    k for k in before if k not in RUN_KEYS]
                for k in keys:
                    assert before[k] == after[k], (path, k)
            return
        m = re.fullmatch(r'(semi_)?custom_hooks\[\d+\]\.begin_iter', path)
        if m:
            prefix = 'semi_model' if m.group(1) else 'model'
            assert _get(new, path.rsplit('.', 1)[0])['type'] == \
                'EMATeacherHook'
            old_train = _get(old, f'{prefix}.semi_train_cfg')
            assert value == old_train.get('sup_only_iters', 0)
            return
        if path == 'optim_wrapper.paramwise_cfg':
            assert all(set(v) == {'lr_mult'} and v['lr_mult'] == 1.0
                       for v in value['custom_keys'].values())
            return
        raise AssertionError(f'{self.relpath}: {path} removed')

    def added(self, path):
        new, value = self.new, _get(self.new, path)
        if path in RECIPE_KEYS:
            return
        m = re.fullmatch(r'((semi_)?model)\.semi_train_cfg\.(\w+)', path)
        if m and self.renamed(m.group(1), m.group(3)):
            return
        if path == 'optim_wrapper.paramwise_cfg.custom_keys.auxiliary_head':
            # no such head, or the multiplier it had without a key
            assert 'auxiliary_head' not in new['model']['segmentor'] or \
                value == {'lr_mult': 1.0}
            return
        if path == 'custom_hooks':
            assert value == [] and self.old.get('custom_hooks') is None
            return
        m = re.fullmatch(r'((semi_)?model)\.semi_train_cfg\.sup_only_epochs',
                         path)
        if m:
            assert self.model_type(m.group(1)) == 'U2PL'
            return
        if path == 'model.semi_train_cfg.iters_per_epoch':
            assert self.relpath == 'toy/u2pl_r18s_toyshapes-1_16.py'
            assert value == 1  # continuous progress, as before
            return
        raise AssertionError(f'{self.relpath}: {path} added')


#: Configs added after the snapshot: UniMatch V2, the other methods on a
#: DINOv2 student and the demo's ViT arms.
ADDED_LATER = re.compile(r'unimatch_v2/|_dinov2-|vit-t-p8')


def test_every_snapshot_config_is_shipped():
    assert sorted(SNAPSHOT) == [
        p for p in shipped_configs() if not ADDED_LATER.search(p)]


@pytest.mark.parametrize('relpath', sorted(SNAPSHOT))
def test_config_resolves_as_before(relpath):
    new = resolve(relpath)
    check = Check(relpath, SNAPSHOT[relpath], new)
    for kind, path in diff(SNAPSHOT[relpath], new):
        if check.template(path):
            continue
        if kind == '-':
            check.removed(path)
        elif kind == '+':
            check.added(path)
        else:
            raise AssertionError(f'{relpath}: {path} changed from '
                                 f'{_get(SNAPSHOT[relpath], path)!r} to '
                                 f'{_get(new, path)!r}')


with open(LOSSES_FILE) as f:
    LOSSES = json.load(f)


#: Intra-op threads of the snapshot's run: CPU float sums depend on how a
#: reduction is split (1 and 2 threads differ by ~5e-5 here).
SNAPSHOT_THREADS = 2


@pytest.fixture
def snapshot_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(SNAPSHOT_THREADS)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize('method', sorted(LOSSES))
def test_toy_step_losses_as_before(method, snapshot_threads):
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    losses = toy_step_losses(method)
    assert set(losses) == set(LOSSES[method])
    for name, value in losses.items():
        assert math.isclose(value, LOSSES[method][name], rel_tol=0,
                            abs_tol=1e-6), (name, value, LOSSES[method][name])


def test_the_snapshot_dir_is_the_repo_s():
    assert osp.samefile(REPO_ROOT, osp.dirname(osp.dirname(HERE)))

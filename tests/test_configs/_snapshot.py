"""Snapshot of every shipped config, resolved, and of one seeded training
step of every toy config: the reference the config refactor is compared
against (``test_refactor_equality.py``).

Regenerate (only when a change of resolved values is intended and listed
in the method README)::

    python tests/test_configs/_snapshot.py
"""
import glob
import json
import os.path as osp
import sys
from typing import Dict

import torch
from mmengine.config import Config

HERE = osp.dirname(osp.abspath(__file__))
REPO_ROOT = osp.dirname(osp.dirname(HERE))
SNAPSHOT_DIR = osp.join(HERE, 'snapshot')
CONFIGS_FILE = osp.join(SNAPSHOT_DIR, 'resolved_configs.json')
LOSSES_FILE = osp.join(SNAPSHOT_DIR, 'toy_step_losses.json')


def shipped_configs():
    """Paths of every shipped config, relative to ``configs/``."""
    paths = glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                      recursive=True)
    return sorted(
        osp.relpath(p, osp.join(REPO_ROOT, 'configs')) for p in paths
        if '_base_' not in p.split(osp.sep))


def plain(value):
    """A resolved config value as JSON gives it back (tuples as lists)."""
    return json.loads(json.dumps(value, default=repr))


def resolve(relpath: str) -> dict:
    import mmsemi  # noqa: F401  (resolves ``mmsemi::`` paths)
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', relpath))
    return plain(cfg.to_dict())


def toy_step_losses(method: str, seed: int = 0) -> Dict[str, float]:
    """The loss terms of one seeded ``model.loss`` step of the method's toy
    config model (stand-in backbone, fitted student, fixed batch)."""
    sys.path.insert(0, osp.join(REPO_ROOT, 'tests', 'test_models'))
    from _toy_step import fit_student, toy_batch, toy_model
    model, cfg = toy_model(method, seed=seed)
    inputs, samples = toy_batch(model, cfg, seed=seed)
    torch.manual_seed(seed)
    fit_student(model, inputs, samples)
    torch.manual_seed(seed + 1)
    losses = model.loss(inputs, samples)
    return {
        name: float(value.detach().sum())
        for name, value in sorted(losses.items())
        if isinstance(value, torch.Tensor)
    }


def main():
    import mmsemi  # noqa: F401
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    sys.path.insert(0, osp.join(REPO_ROOT, 'tests', 'test_models'))
    from _toy_step import TOY_CONFIGS
    configs = {path: resolve(path) for path in shipped_configs()}
    with open(CONFIGS_FILE, 'w') as f:
        json.dump(configs, f, indent=1, sort_keys=True)
    losses = {method: toy_step_losses(method) for method in TOY_CONFIGS}
    with open(LOSSES_FILE, 'w') as f:
        json.dump(losses, f, indent=1, sort_keys=True)
    print(f'{len(configs)} configs -> {CONFIGS_FILE}')
    print(json.dumps(losses, indent=1))


if __name__ == '__main__':
    main()

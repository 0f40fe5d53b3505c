"""Every shipped config states the batch its lr is for: ``auto_scale_lr =
dict(enable=False, base_batch_size=N)`` with ``N`` = processes x
``train_dataloader.batch_size`` (labeled + unlabeled images) of the recipe,
as the name says (``4xb2+2``: 4 GPUs x (2 + 2); toy configs: one
process)."""
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config

import mmsemi  # noqa: F401  (registers the `mmsemi::` lookup)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                         recursive=True) if '_base_' not in p)
RECIPE_TAG = re.compile(r'_(\d+)xb(\d+)(?:\+(\d+))?-')


def _recipe(name: str):
    """(processes, images per process) of a config name."""
    match = RECIPE_TAG.search(name)
    if match is None:
        return None
    gpus, labeled, unlabeled = match.groups()
    return int(gpus), int(labeled) + int(unlabeled or 0)


def test_every_config_but_the_toy_ones_names_its_recipe():
    untagged = [osp.basename(p) for p in CONFIGS
                if _recipe(osp.basename(p)) is None]
    assert untagged and all('toyshapes' in n for n in untagged), untagged


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_base_batch_is_the_recipe_batch(path):
    cfg = Config.fromfile(path)
    batch = cfg.train_dataloader.batch_size
    gpus, per_gpu = _recipe(osp.basename(path)) or (1, batch)
    assert batch == per_gpu
    assert cfg.auto_scale_lr == dict(enable=False,
                                     base_batch_size=gpus * per_gpu)

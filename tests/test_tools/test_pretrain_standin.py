"""The stand-in pretraining script: its schedule, its two targets and a
tiny run whose weights the toy ViT model base loads."""
import importlib.util
import json
import math
import os.path as osp
import sys

import torch
from mmengine.config import Config

from mmseg.registry import MODELS

import mmsemi  # noqa: F401  (registers DINOv2)

from ._helpers import REPO_ROOT, run_checked, subprocess_env

spec = importlib.util.spec_from_file_location(
    'pretrain_standin_backbone',
    osp.join(REPO_ROOT, 'tools/misc/pretrain_standin_backbone.py'))
pretrain = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pretrain)

MODELS_DIR = osp.join(REPO_ROOT, 'configs', '_base_', 'models')


def test_warmup_cosine_by_hand():
    factors = [pretrain.warmup_cosine(step, warmup=4, total=12)
               for step in (0, 3, 4, 8, 12)]
    # linear 1/4 .. 1, then cosine over the 8 remaining steps
    expected = [0.25, 1.0, 1.0, 0.5, 0.0]
    assert all(math.isclose(a, b, abs_tol=1e-12)
               for a, b in zip(factors, expected)), factors
    assert pretrain.warmup_cosine(5, warmup=0, total=10) == \
        0.5 * (1 + math.cos(math.pi * 0.5))


def test_cell_target_loss_is_the_soft_cross_entropy():
    cfg = Config.fromfile(osp.join(MODELS_DIR, 'vit-t-p8_dpt_toy.py'))
    model = pretrain.Classifier(cfg.model.backbone, 12, 'config', dense=True)
    logits = torch.zeros(1, 13, 1, 2)
    logits[0, 0, 0, 0] = math.log(3.0)  # p(background) = 3 / 15 there
    targets = torch.zeros(1, 13, 1, 2)
    targets[0, 0, 0, :] = 0.5
    targets[0, 1, 0, :] = 0.5
    # cell 0: -(0.5 log(3/15) + 0.5 log(1/15)); cell 1: -log(1/13)
    cell0 = -(0.5 * math.log(3 / 15) + 0.5 * math.log(1 / 15))
    expected = (cell0 + math.log(13)) / 2
    assert math.isclose(model.loss(logits, targets).item(), expected,
                        rel_tol=1e-6)
    out = model(torch.zeros(2, 3, 64, 64))
    assert out.shape == (2, 13, 8, 8)


def test_both_encoders_have_stride_8():
    for name in ('deeplabv3plus_r18s-d8_toy.py', 'vit-t-p8_dpt_toy.py'):
        cfg = Config.fromfile(osp.join(MODELS_DIR, name))
        assert pretrain.backbone_stride(cfg.model) == 8, name


def test_tiny_vit_pretraining_loads_into_the_toy_vit(tmp_path):
    out = tmp_path / 'standin.pth'
    run_checked([
        sys.executable,
        osp.join(REPO_ROOT, 'tools/misc/pretrain_standin_backbone.py'),
        '--model-base', 'configs/_base_/models/vit-t-p8_dpt_toy.py',
        '--init', 'config', '--target', 'patch', '--out', str(out),
        '--num-images', '16', '--num-heldout', '8', '--steps', '3',
        '--batch-size', '4', '--warmup-steps', '1', '--nproc', '1'
    ], cwd=str(tmp_path), env=subprocess_env(), timeout=600)
    manifest = json.loads((tmp_path / 'standin.json').read_text())
    assert manifest['target'] == 'patch' and manifest['init'] == 'config'
    assert 0.0 <= manifest['heldout']['cell_accuracy'] <= 1.0
    state = torch.load(out, weights_only=True)
    assert all(v.dtype == torch.float16 for v in state.values()
               if v.is_floating_point())
    cfg = Config.fromfile(osp.join(MODELS_DIR, 'vit-t-p8_dpt_toy.py'))
    cfg.model.backbone.init_cfg.checkpoint = str(out)
    model = MODELS.build(cfg.model)
    model.init_weights()
    loaded = model.backbone.state_dict()
    assert set(loaded) == set(state)
    for key, value in state.items():
        torch.testing.assert_close(loaded[key], value.float(), msg=key)

"""The stand-in backbones' pretraining task is disjoint from ToyShapes, and
the shipped weights (ResNet and ViT) match their manifests and load into
the toy models' encoders."""
import hashlib
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmseg.registry import MODELS

import mmsemi  # noqa: F401
from mmsemi.datasets import toy_shapes
from mmsemi.datasets.standin_shapes import (MIN_VISIBLE_PIXELS,
                                            STANDIN_CLASSES,
                                            STANDIN_SHAPE_SET,
                                            STANDIN_SPLIT_CODES,
                                            check_disjoint_from_toy_shapes,
                                            patch_class_fractions,
                                            render_standin_patch_sample,
                                            render_standin_sample,
                                            standin_rng)
from mmsemi.utils import package_checkpoint_path

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MODELS_DIR = osp.join(REPO, 'configs', '_base_', 'models')
#: Each toy model base and the stand-in weights its encoder loads, with the
#: held-out score its manifest must show (the ResNet's image labels, the
#: ViT's cells).
STAND_INS = {
    'deeplabv3plus_r18s-d8_toy.py': ('standin_r18s_shapes12.pth',
                                     'label_accuracy'),
    'vit-t-p8_dpt_toy.py': ('standin_vit-t-p8_shapes12.pth',
                            'cell_accuracy'),
}


def test_class_sets_are_disjoint():
    check_disjoint_from_toy_shapes()
    assert len(STANDIN_CLASSES) == 12
    assert not set(STANDIN_CLASSES) & set(toy_shapes.TOY_SHAPES_CLASSES)
    assert STANDIN_SHAPE_SET.classes[1:] == STANDIN_CLASSES


def test_check_fails_on_a_shared_class(monkeypatch):
    import mmsemi.datasets.standin_shapes as standin
    monkeypatch.setattr(standin, 'STANDIN_CLASSES',
                        STANDIN_CLASSES + ('star', ))
    with pytest.raises(ValueError, match='star'):
        standin.check_disjoint_from_toy_shapes()


def test_no_toy_shapes_image_is_drawn():
    """The pretraining RNG streams are not ToyShapes' train/val streams,
    and its label maps only hold the 12 pretraining classes."""
    assert not set(STANDIN_SPLIT_CODES.values()) & set(
        toy_shapes._SPLIT_CODES.values())
    for index in range(5):
        ours = standin_rng(0, 'train', index).random(8)
        for split in ('train', 'val'):
            theirs = toy_shapes.image_rng(0, split, index).random(8)
            assert not np.array_equal(ours, theirs)


def test_targets_are_the_visible_classes():
    for index in range(20):
        rng = standin_rng(3, 'train', index)
        _, label = toy_shapes.render_toy_image(rng, 64, STANDIN_SHAPE_SET)
        img, target = render_standin_sample(3, 'train', index)
        counts = np.bincount(label.ravel(), minlength=13)[1:]
        assert img.shape == (64, 64, 3) and img.dtype == np.uint8
        np.testing.assert_array_equal(target, counts >= MIN_VISIBLE_PIXELS)
        assert 1 <= target.sum() <= 3


def test_every_class_is_drawn_with_similar_area():
    sizes = {name: [] for name in STANDIN_CLASSES}
    for seed in range(40):
        for cls, name in enumerate(STANDIN_CLASSES, start=1):
            mask, _, _ = toy_shapes._shape_mask(
                np.random.default_rng(seed), cls, 96, STANDIN_SHAPE_SET)
            sizes[name].append(mask.sum())
    means = np.array([np.mean(v) for v in sizes.values()])
    assert means.min() > 0.7 * means.max(), dict(zip(sizes, means))


def test_patch_class_fractions_by_hand():
    label = np.zeros((4, 4), dtype=np.uint8)
    label[0, 0] = 2        # one pixel of class 2 in the top-left cell
    label[2:, 2:] = 1      # the whole bottom-right cell is class 1
    label[0, 2:] = 1       # half of the top-right cell
    cells = patch_class_fractions(label, 2, 3)
    assert cells.shape == (3, 2, 2)
    np.testing.assert_allclose(cells[:, 0, 0], [0.75, 0.0, 0.25])
    np.testing.assert_allclose(cells[:, 0, 1], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(cells[:, 1, 0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(cells[:, 1, 1], [0.0, 1.0, 0.0])
    with pytest.raises(ValueError, match='multiple of the patch size 3'):
        patch_class_fractions(label, 3, 3)


def test_patch_sample_is_the_image_sample_with_cell_targets():
    for index in range(5):
        _, label = toy_shapes.render_toy_image(
            standin_rng(1, 'heldout', index), 64, STANDIN_SHAPE_SET)
        img, cells = render_standin_patch_sample(1, 'heldout', index)
        same_img, labels = render_standin_sample(1, 'heldout', index)
        np.testing.assert_array_equal(img, same_img)
        assert cells.shape == (13, 8, 8)
        np.testing.assert_allclose(cells.sum(0), 1.0, rtol=1e-6)
        np.testing.assert_allclose(cells, patch_class_fractions(label, 8, 13))
        # a class with enough visible pixels covers cells, one without none
        present = cells[1:].sum((1, 2)) * 64 >= MIN_VISIBLE_PIXELS
        np.testing.assert_array_equal(present, labels > 0)


def _manifest(weights):
    path = package_checkpoint_path(weights)
    with open(osp.splitext(path)[0] + '.json') as f:
        return path, json.load(f)


@pytest.mark.parametrize('model_base', sorted(STAND_INS))
def test_shipped_weights_match_the_manifest(model_base):
    weights, score = STAND_INS[model_base]
    path, manifest = _manifest(weights)
    with open(path, 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest() == manifest['sha256']
    assert manifest['classes'] == list(STANDIN_CLASSES)
    assert manifest['file'] == weights
    assert manifest['backbone_config'] == osp.join(
        'configs', '_base_', 'models', model_base)
    for key in ('command', 'seed', 'steps'):
        assert key in manifest
    heldout = manifest['heldout']
    assert heldout['num_images'] > 0
    assert 0.5 < heldout[score] <= 1.0
    assert osp.getsize(path) < 4 * 2**20


@pytest.mark.parametrize('model_base', sorted(STAND_INS))
def test_toy_model_loads_every_backbone_key(model_base):
    """Each toy model base loads its stand-in weights through init_cfg
    (``mmsemi://``), into every encoder parameter and buffer."""
    weights = STAND_INS[model_base][0]
    cfg = Config.fromfile(osp.join(MODELS_DIR, model_base))
    init = cfg.model.backbone.init_cfg
    assert init.type == 'Pretrained' and init.checkpoint == 'mmsemi://' + \
        weights
    state = torch.load(package_checkpoint_path(weights), weights_only=True)
    prefix = init.get('prefix', '')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    backbone = model.backbone.state_dict()
    assert set(backbone) == {key for key in state if key.startswith(prefix)}
    assert set(backbone) == set(state)
    for key, value in state.items():
        torch.testing.assert_close(backbone[key], value.to(
            backbone[key].dtype), msg=key)

import importlib.util
import json
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope

from mmsemi.datasets import ToyShapesDataset
from mmsemi.datasets.splits import read_names
from mmsemi.datasets.toy_shapes import (TOY_SHAPES_CLASSES, TOY_SHAPES_PALETTE,
                                        _shape_mask, generate_toy_shapes,
                                        image_rng, render_toy_image)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NUM_CLASSES = len(TOY_SHAPES_CLASSES)


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy') / 'toyshapes')
    summary = generate_toy_shapes(
        root,
        num_train=20,
        num_val=6,
        size=64,
        seed=0,
        splits=('1_4', '1_2'),
        nproc=1)
    return root, summary


def _read_sample(root, name):
    img = cv2.imread(osp.join(root, 'JPEGImages', name + '.png'))
    label = cv2.imread(
        osp.join(root, 'SegmentationClass', name + '.png'),
        cv2.IMREAD_UNCHANGED)
    return img, label


def test_metainfo():
    assert TOY_SHAPES_CLASSES[0] == 'background'
    assert len(TOY_SHAPES_CLASSES) >= 7
    assert len(TOY_SHAPES_PALETTE) == NUM_CLASSES
    assert len({tuple(c) for c in TOY_SHAPES_PALETTE}) == NUM_CLASSES


def test_layout_and_splits(toy_root):
    root, summary = toy_root
    train = read_names(osp.join(root, 'ImageSets/Segmentation/train.txt'))
    val = read_names(osp.join(root, 'ImageSets/Segmentation/val.txt'))
    assert len(train) == 20 and len(val) == 6
    assert not set(train) & set(val)
    for name, num in (('1_4', 5), ('1_2', 10)):
        labeled = read_names(osp.join(root, 'splits', name, 'labeled.txt'))
        unlabeled = read_names(osp.join(root, 'splits', name, 'unlabeled.txt'))
        assert len(labeled) == num and len(unlabeled) == 20 - num
        assert sorted(labeled + unlabeled) == sorted(train)
        assert summary['splits'][name] == dict(
            num_labeled=num, num_unlabeled=20 - num)
    on_disk = json.load(open(osp.join(root, 'toy_shapes.json')))
    assert on_disk['num_train'] == 20 and 'seconds' not in on_disk
    assert on_disk['train_class_images']['background'] == 20


def test_images_and_labels_valid(toy_root):
    root, _ = toy_root
    names = read_names(osp.join(root, 'ImageSets/Segmentation/train.txt'))
    for name in names:
        img, label = _read_sample(root, name)
        assert img.shape == (64, 64, 3) and img.dtype == np.uint8
        assert label.shape == (64, 64) and label.dtype == np.uint8
        assert label.max() < NUM_CLASSES
        assert (label > 0).any()  # at least one object is visible


def test_deterministic_and_worker_independent(toy_root, tmp_path):
    root, _ = toy_root
    other = str(tmp_path / 'again')
    generate_toy_shapes(
        other,
        num_train=20,
        num_val=6,
        size=64,
        seed=0,
        splits=('1_4', ),
        nproc=2)
    for sub, name in (('JPEGImages', 'train_000000'), ('JPEGImages',
                                                       'train_000017'),
                      ('SegmentationClass',
                       'train_000017'), ('SegmentationClass', 'val_000005')):
        with open(osp.join(root, sub, name + '.png'), 'rb') as f1, \
                open(osp.join(other, sub, name + '.png'), 'rb') as f2:
            assert f1.read() == f2.read()
    assert open(osp.join(root, 'splits/1_4/labeled.txt')).read() == \
        open(osp.join(other, 'splits/1_4/labeled.txt')).read()


def test_seed_changes_images():
    img0, _ = render_toy_image(image_rng(0, 'train', 3), 48)
    img1, _ = render_toy_image(image_rng(1, 'train', 3), 48)
    img2, _ = render_toy_image(image_rng(0, 'val', 3), 48)
    assert not np.array_equal(img0, img1)
    assert not np.array_equal(img0, img2)


def test_all_classes_present():
    seen = np.zeros(NUM_CLASSES, dtype=bool)
    for index in range(40):
        _, label = render_toy_image(image_rng(0, 'train', index), 48)
        seen[np.unique(label)] = True
    assert seen.all()


def test_ring_has_hole():
    ring = TOY_SHAPES_CLASSES.index('ring')
    circle = TOY_SHAPES_CLASSES.index('circle')
    for seed in range(5):
        mask, (cy, cx), _ = _shape_mask(np.random.default_rng(seed), ring, 96)
        assert not mask[int(round(cy)), int(round(cx))]
        mask, (cy,
               cx), _ = _shape_mask(np.random.default_rng(seed), circle, 96)
        assert mask[int(round(cy)), int(round(cx))]


def test_dataset_class(toy_root):
    root, _ = toy_root
    init_default_scope('mmseg')
    common = dict(
        data_root=root,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'))
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]
    labeled = ToyShapesDataset(
        split_file='splits/1_4/labeled.txt', pipeline=pipeline, **common)
    assert len(labeled) == 5
    assert labeled.metainfo['classes'] == TOY_SHAPES_CLASSES
    sample = labeled[0]
    assert sample['img'].shape == (64, 64, 3)
    assert sample['gt_seg_map'].shape == (64, 64)
    assert sample['gt_seg_map'].max() < NUM_CLASSES
    unlabeled = ToyShapesDataset(
        split_file='splits/1_4/unlabeled.txt', with_label=False, **common)
    assert len(unlabeled) == 15
    assert unlabeled.get_data_info(0)['seg_map_path'] is None


def test_cli(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        'tool_generate_toy_dataset',
        osp.join(ROOT, 'tools/misc/generate_toy_dataset.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = str(tmp_path / 'cli')
    summary = tool.main([
        '--out', out, '--num-train', '8', '--num-val', '2', '--size', '32',
        '--splits', '1_2', '--nproc', '1', '--preview', '2'
    ])
    assert summary['splits'] == {'1_2': dict(num_labeled=4, num_unlabeled=4)}
    assert cv2.imread(osp.join(out, 'preview.png')).shape == (192, 192, 3)
    assert ' s (nproc=1)' in capsys.readouterr().out


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='reduced fraction'):
        generate_toy_shapes(str(tmp_path), num_train=4, splits=('2_4', ))
    with pytest.raises(ValueError, match='<p>_<q>'):
        generate_toy_shapes(str(tmp_path), num_train=4, splits=('half', ))

# Copyright (c) mmsemi contributors. All rights reserved.
"""Tests of SemiSegDataset split resolution and load-time checks."""
import os
import os.path as osp
import re

import cv2
import numpy as np
import pytest

from mmseg.registry import DATASETS, TRANSFORMS
from mmsemi.datasets import SemiSegDataset

META = dict(classes=('background', 'shape'), palette=[[0, 0, 0], [1, 1, 1]])
VOC = dict(
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
    img_suffix='.jpg',
    seg_map_suffix='.png',
    metainfo=META)


def _write(path, array):
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, array)


@pytest.fixture
def voc_root(tmp_path):
    root = str(tmp_path / 'voc')
    for i, name in enumerate(['a', 'b', 'c']):
        _write(
            osp.join(root, 'JPEGImages', name + '.jpg'),
            np.full((6, 8, 3), 40 * i, np.uint8))
        _write(
            osp.join(root, 'SegmentationClass', name + '.png'),
            np.full((6, 8), i % 2, np.uint8))
    return root


def _split(root, name, text):
    path = osp.join(root, 'splits', name)
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)
    return osp.join('splits', name)


def _paths(dataset):
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    return [(d['img_path'], d['seg_map_path']) for d in infos]


def test_name_entries(voc_root):
    split = _split(voc_root, 'labeled.txt', '# comment\na\n\nc\n')
    ds = SemiSegDataset(split_file=split, data_root=voc_root, **VOC)
    assert len(ds) == 2
    assert _paths(ds) == [
        (osp.join(voc_root, 'JPEGImages', 'a.jpg'),
         osp.join(voc_root, 'SegmentationClass', 'a.png')),
        (osp.join(voc_root, 'JPEGImages', 'c.jpg'),
         osp.join(voc_root, 'SegmentationClass', 'c.png')),
    ]
    info = ds.get_data_info(1)
    assert info['seg_fields'] == [] and info['reduce_zero_label'] is False


def test_pair_entries(voc_root):
    split = _split(voc_root, 'pairs.txt',
                   'JPEGImages/b.jpg SegmentationClass/b.png\n'
                   'JPEGImages/a.jpg SegmentationClass/c.png\n')
    ds = SemiSegDataset(split_file=split, data_root=voc_root, **VOC)
    assert _paths(ds) == [
        (osp.join(voc_root, 'JPEGImages/b.jpg'),
         osp.join(voc_root, 'SegmentationClass/b.png')),
        (osp.join(voc_root, 'JPEGImages/a.jpg'),
         osp.join(voc_root, 'SegmentationClass/c.png')),
    ]
    unl = SemiSegDataset(
        split_file=split, data_root=voc_root, with_label=False, **VOC)
    assert [p[1] for p in _paths(unl)] == [None, None]


def test_single_path_entries(voc_root):
    split = _split(voc_root, 'u2pl.txt', 'JPEGImages/c.jpg\n')
    unl = SemiSegDataset(
        split_file=split, data_root=voc_root, with_label=False, **VOC)
    assert _paths(unl) == [(osp.join(voc_root, 'JPEGImages/c.jpg'), None)]
    # With labels, the label is derived through data_prefix and suffixes.
    lab = SemiSegDataset(split_file=split, data_root=voc_root, **VOC)
    assert _paths(lab) == [(osp.join(voc_root, 'JPEGImages/c.jpg'),
                            osp.join(voc_root, 'SegmentationClass', 'c.png'))]


def test_cityscapes_u2pl_paths(tmp_path):
    root = str(tmp_path / 'cityscapes')
    stem = 'aachen/aachen_000000_000019'
    _write(
        osp.join(root, 'leftImg8bit/train', stem + '_leftImg8bit.png'),
        np.zeros((4, 8, 3), np.uint8))
    _write(
        osp.join(root, 'gtFine/train', stem + '_gtFine_labelTrainIds.png'),
        np.zeros((4, 8), np.uint8))
    split = _split(root, 'l.txt',
                   f'leftImg8bit/train/{stem}_leftImg8bit.png\n')
    ds = SemiSegDataset(
        split_file=split,
        data_root=root,
        data_prefix=dict(
            img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
        img_suffix='_leftImg8bit.png',
        seg_map_suffix='_gtFine_labelTrainIds.png',
        metainfo=META)
    assert _paths(ds) == [
        (osp.join(root, f'leftImg8bit/train/{stem}_leftImg8bit.png'),
         osp.join(root, 'gtFine/train', stem + '_gtFine_labelTrainIds.png'))
    ]


def test_missing_image_names_file_line_and_path(voc_root):
    split = _split(voc_root, 'bad.txt', 'a\nzzz\n')
    missing = osp.join(voc_root, 'JPEGImages', 'zzz.jpg')
    expected = (f"{osp.join(voc_root, split)}:2: image '{missing}' "
                'does not exist')
    with pytest.raises(FileNotFoundError, match=re.escape(expected)):
        SemiSegDataset(split_file=split, data_root=voc_root, **VOC)


def test_missing_label(voc_root):
    os.remove(osp.join(voc_root, 'SegmentationClass', 'b.png'))
    split = _split(voc_root, 'l.txt', 'a\n# skip\nb\n')
    missing = osp.join(voc_root, 'SegmentationClass', 'b.png')
    with pytest.raises(
            FileNotFoundError,
            match=re.escape(f":3: label '{missing}' does not exist")):
        SemiSegDataset(split_file=split, data_root=voc_root, **VOC)
    # Unlabeled use does not need (or check) labels.
    ds = SemiSegDataset(
        split_file=split, data_root=voc_root, with_label=False, **VOC)
    assert [p[1] for p in _paths(ds)] == [None, None]


def test_seg_map_fallback_mmseg_voc_aug_layout(voc_root):
    """mmseg's VOC aug layout: fine masks in SegmentationClass, SBD masks
    in SegmentationClassAug; a fine mask wins over the SBD one."""
    aug = osp.join(voc_root, 'SegmentationClassAug')
    os.remove(osp.join(voc_root, 'SegmentationClass', 'b.png'))
    for name in ('a', 'b'):
        _write(osp.join(aug, name + '.png'), np.zeros((6, 8), np.uint8))
    split = _split(voc_root, 'l.txt', 'a\nb\nc\n')
    ds = SemiSegDataset(
        split_file=split,
        data_root=voc_root,
        seg_map_fallback='SegmentationClassAug',
        **VOC)
    fine = osp.join(voc_root, 'SegmentationClass')
    assert [p[1] for p in _paths(ds)] == [
        osp.join(fine, 'a.png'),
        osp.join(aug, 'b.png'),
        osp.join(fine, 'c.png'),
    ]
    # In neither folder: the error names the configured (primary) path.
    os.remove(osp.join(aug, 'b.png'))
    with pytest.raises(
            FileNotFoundError,
            match=re.escape(f"label '{osp.join(fine, 'b.png')}'")):
        SemiSegDataset(
            split_file=split,
            data_root=voc_root,
            seg_map_fallback='SegmentationClassAug',
            **VOC)


def test_empty_split(voc_root):
    split = _split(voc_root, 'empty.txt', '# nothing here\n\n')
    with pytest.raises(ValueError, match='empty.txt lists no samples'):
        SemiSegDataset(split_file=split, data_root=voc_root, **VOC)


def test_malformed_split_line(voc_root):
    split = _split(voc_root, 'three.txt', 'a\nx y z\n')
    with pytest.raises(ValueError, match=r'three.txt:2'):
        SemiSegDataset(split_file=split, data_root=voc_root, **VOC)


def test_without_split_file_falls_back_to_ann_file(voc_root):
    with open(osp.join(voc_root, 'train.txt'), 'w') as f:
        f.write('b\nc\n')
    ds = SemiSegDataset(
        ann_file='train.txt', data_root=voc_root, with_label=False, **VOC)
    assert _paths(ds) == [(osp.join(voc_root, 'JPEGImages', 'b.jpg'), None),
                          (osp.join(voc_root, 'JPEGImages', 'c.jpg'), None)]


def test_registered_and_pipeline(voc_root):
    split = _split(voc_root, 'u.txt', 'b\n')
    pipeline = [
        TRANSFORMS.build(dict(type='LoadImageFromFile')),
        TRANSFORMS.build(dict(type='LoadUnlabeledAnnotations')),
    ]
    ds = DATASETS.build(
        dict(
            type='SemiSegDataset',
            split_file=split,
            data_root=voc_root,
            with_label=False,
            pipeline=pipeline,
            **VOC))
    assert isinstance(ds, SemiSegDataset)
    sample = ds[0]
    assert sample['img'].shape == (6, 8, 3)
    assert sample['gt_seg_map'].shape == (6, 8)
    assert sample['seg_fields'] == ['gt_seg_map']
    assert sample['seg_map_path'] is None
    assert ds.metainfo['classes'] == META['classes']

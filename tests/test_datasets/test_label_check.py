# Copyright (c) mmsemi contributors. All rights reserved.
"""Start-up label check: hand-made label files with known bad values at
known split lines, stock mmseg datasets, label maps and the pass cache."""
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.dataset import ConcatDataset
from PIL import Image

from mmseg.datasets import PascalVOCDataset
from mmseg.datasets.transforms import LoadAnnotations
from mmsemi.datasets import SemiSegDataset, label_check
from mmsemi.datasets.label_check import check_dataset_labels, value_lut

META = dict(classes=('background', 'a', 'b'),
            palette=[[0, 0, 0], [1, 1, 1], [2, 2, 2]])
PREFIX = dict(img_path='img', seg_map_path='ann')
LOAD = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]


def _save(path, array):
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path)


def _sample(root, name, label, img_hw=None):
    """Image ``img/<name>.png`` (label's size unless ``img_hw``) and label
    ``ann/<name>.png``."""
    h, w = img_hw or label.shape[:2]
    _save(osp.join(root, 'img', name + '.png'),
          np.full((h, w, 3), 90, np.uint8))
    _save(osp.join(root, 'ann', name + '.png'), label)


def _write(root, rel, text):
    path = osp.join(root, rel)
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)
    return rel


def _dataset(root, split, pipeline=LOAD, **kwargs):
    return SemiSegDataset(split_file=split, data_root=root,
                          data_prefix=PREFIX, img_suffix='.png',
                          seg_map_suffix='.png', metainfo=META,
                          pipeline=pipeline, **kwargs)


@pytest.fixture
def root(tmp_path):
    """good (0, 1, 2, 255), bad_value (3 and 7), small (label 4x5 for a
    6x5 image)."""
    root = str(tmp_path / 'data')
    good = np.array([[0, 1], [2, 255]], np.uint8).repeat(3, 0).repeat(3, 1)
    _sample(root, 'good', good)
    bad = good.copy()
    bad[0, 0], bad[5, 5] = 3, 7
    _sample(root, 'bad_value', bad)
    _sample(root, 'small', np.zeros((4, 5), np.uint8), img_hw=(6, 5))
    return root


def test_reports_split_line_file_and_values(root):
    split = _write(root, 'splits/labeled.txt',
                   '# header\ngood\n\nbad_value\ngood_again\n')
    _sample(root, 'good_again', np.ones((6, 6), np.uint8))
    [report] = check_dataset_labels(_dataset(root, split), workers=2)
    assert report.num_checked == 3
    [problem] = report.problems
    split_path = osp.join(root, 'splits', 'labeled.txt')
    label_path = osp.join(root, 'ann', 'bad_value.png')
    assert str(problem) == (
        f"{split_path}:4: label '{label_path}' has values [3, 7] outside "
        '[0, 3) and != ignore_index 255')


def test_reports_size_mismatch_and_channels(root):
    _save(osp.join(root, 'ann', 'rgb.png'), np.zeros((6, 6, 3), np.uint8))
    _save(osp.join(root, 'img', 'rgb.png'), np.zeros((6, 6, 3), np.uint8))
    split = _write(root, 'splits/s.txt', 'small\nrgb\n')
    [report] = check_dataset_labels(_dataset(root, split))
    messages = {p.line: p.message for p in report.problems}
    assert messages == {
        1: "has (H, W) = (4, 5) but its image "
        f"'{osp.join(root, 'img', 'small.png')}' has (6, 5)",
        2: 'has shape (6, 6, 3); expected a single-channel (or palette) '
        'map of class indices'
    }


def test_exif_rotated_jpeg_is_compared_as_decoded(tmp_path):
    """cv2 (LoadImageFromFile's default) applies EXIF orientation, so a
    4x6 JPEG tagged 'rotate 90' is a 6x4 image."""
    root = str(tmp_path)
    os.makedirs(osp.join(root, 'img'))
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(
        osp.join(root, 'img', 'r.jpg'), exif=exif)
    _save(osp.join(root, 'ann', 'r.png'), np.zeros((6, 4), np.uint8))
    split = _write(root, 's.txt', 'r\n')
    dataset = SemiSegDataset(split_file=split, data_root=root,
                             data_prefix=PREFIX, img_suffix='.jpg',
                             seg_map_suffix='.png', metainfo=META,
                             pipeline=LOAD)
    [report] = check_dataset_labels(dataset)
    assert report.problems == []


def test_pair_entries_and_unlabeled_sets(root):
    split = _write(root, 'splits/pairs.txt',
                   'img/good.png ann/good.png\n'
                   'img/good.png ann/bad_value.png\n')
    unlabeled = _dataset(root, split, with_label=False, pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadUnlabeledAnnotations')
    ])
    labeled = _dataset(root, split)
    reports = check_dataset_labels(ConcatDataset([labeled, unlabeled]))
    assert len(reports) == 2
    assert [p.line for p in reports[0].problems] == [2]
    assert reports[1].skipped == 'its pipeline loads no labels'
    assert reports[1].problems == []


def test_pipeline_without_label_loading_is_skipped(root):
    split = _write(root, 'splits/s.txt', 'bad_value\n')
    dataset = _dataset(root, split,
                       pipeline=[dict(type='LoadImageFromFile')])
    [report] = check_dataset_labels(dataset)
    assert report.skipped and report.problems == []


def test_stock_mmseg_dataset_with_ann_file(tmp_path):
    """PascalVOCDataset (21 classes): value 21 at line 2 of the ann file."""
    root = str(tmp_path / 'VOC')
    for name, value in (('x', 20), ('y', 21)):
        _save(osp.join(root, 'JPEGImages', name + '.jpg'),
              np.zeros((5, 5, 3), np.uint8))
        _save(osp.join(root, 'SegmentationClass', name + '.png'),
              np.full((5, 5), value, np.uint8))
    _write(root, 'val.txt', 'x\ny\n')
    dataset = PascalVOCDataset(
        data_root=root, ann_file='val.txt',
        data_prefix=dict(img_path='JPEGImages',
                         seg_map_path='SegmentationClass'),
        pipeline=LOAD)
    [report] = check_dataset_labels(dataset)
    [problem] = report.problems
    assert str(problem) == (
        f"{osp.join(root, 'val.txt')}:2: label "
        f"'{osp.join(root, 'SegmentationClass', 'y.png')}' has values [21] "
        'outside [0, 21) and != ignore_index 255')


@pytest.mark.parametrize('reduce_zero_label', [False, True])
def test_value_lut_matches_mmseg_load_annotations(tmp_path,
                                                  reduce_zero_label):
    label_map = {0: 2, 3: 255, 5: 1}
    path = str(tmp_path / 'all.png')
    _save(path, np.arange(256, dtype=np.uint8).reshape(16, 16))
    results = dict(seg_map_path=path, reduce_zero_label=reduce_zero_label,
                   label_map=label_map, seg_fields=[])
    LoadAnnotations()._load_seg_map(results)
    expected = results['gt_seg_map'].reshape(-1).astype(np.int64)
    np.testing.assert_array_equal(value_lut(reduce_zero_label, label_map),
                                  expected)


def test_label_map_is_applied_before_the_range_check(root):
    """With reduce_zero_label, file value 0 is ignored and 3 becomes 2
    (valid); 7 becomes 6 (invalid), reported with both values."""
    split = _write(root, 'splits/s.txt', 'bad_value\n')
    dataset = _dataset(root, split, reduce_zero_label=True)
    [report] = check_dataset_labels(dataset)
    [problem] = report.problems
    assert problem.message == (
        'has values [7] (after reduce_zero_label/label_map: [6]) outside '
        '[0, 3) and != ignore_index 255')


def test_cache_skips_unchanged_files_and_rechecks_changed(root, tmp_path,
                                                          monkeypatch):
    split = _write(root, 'splits/s.txt', 'good\nbad_value\n')
    cache = str(tmp_path / 'cache')
    calls = []
    original = label_check.check_label_file

    def counting(sample, settings):
        calls.append(osp.basename(sample.seg_map_path))
        return original(sample, settings)

    monkeypatch.setattr(label_check, 'check_label_file', counting)
    [first] = check_dataset_labels(_dataset(root, split), cache_dir=cache)
    assert sorted(calls) == ['bad_value.png', 'good.png']
    calls.clear()
    [second] = check_dataset_labels(_dataset(root, split), cache_dir=cache)
    # only the failing label is read again
    assert calls == ['bad_value.png']
    assert (second.num_cached, len(second.problems)) == (1, 1)
    # a changed label is read again (size and mtime differ)
    label = osp.join(root, 'ann', 'good.png')
    _save(label, np.full((6, 6), 9, np.uint8))
    os.utime(label, ns=(1, 1))
    calls.clear()
    [third] = check_dataset_labels(_dataset(root, split), cache_dir=cache)
    assert sorted(calls) == ['bad_value.png', 'good.png']
    assert [p.line for p in third.problems] == [1, 2]

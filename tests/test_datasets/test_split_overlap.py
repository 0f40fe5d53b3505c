# Copyright (c) mmsemi contributors. All rights reserved.
"""Images listed by both the labeled and the unlabeled split are found (in
any split-file format, through dataset wrappers) and named."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch.utils.data
from mmengine.dataset import ConcatDataset, RepeatDataset

from mmsemi.datasets import SemiSegDataset
from mmsemi.datasets.split_overlap import (find_split_overlap,
                                           split_overlap_message)

NAMES = [f'img{i}' for i in range(10)]
VOC = dict(
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
    img_suffix='.jpg',
    seg_map_suffix='.png',
    metainfo=dict(classes=('background', 'shape'),
                  palette=[[0, 0, 0], [1, 1, 1]]))


@pytest.fixture
def root(tmp_path):
    root = str(tmp_path / 'voc')
    for folder, suffix, shape in (('JPEGImages', '.jpg', (4, 4, 3)),
                                  ('SegmentationClass', '.png', (4, 4))):
        os.makedirs(osp.join(root, folder))
        for name in NAMES:
            assert cv2.imwrite(osp.join(root, folder, name + suffix),
                               np.zeros(shape, np.uint8))
    return root


def _split(root, name, lines):
    os.makedirs(osp.join(root, 'splits'), exist_ok=True)
    with open(osp.join(root, 'splits', name), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return osp.join('splits', name)


def _sets(root, labeled, unlabeled):
    lab = SemiSegDataset(split_file=_split(root, 'labeled.txt', labeled),
                         data_root=root, **VOC)
    unl = SemiSegDataset(split_file=_split(root, 'unlabeled.txt', unlabeled),
                         data_root=root, with_label=False, **VOC)
    return lab, unl


def test_disjoint_splits_have_no_overlap(root):
    lab, unl = _sets(root, NAMES[:3], NAMES[3:])
    assert find_split_overlap(ConcatDataset([lab, unl])) == []
    assert split_overlap_message(ConcatDataset([lab, unl])) is None


def test_overlap_in_another_line_format_is_found_and_named(root):
    """The unlabeled file lists img1 as a UniMatch path pair and img2 as a
    name: both are the labeled set's images."""
    lab, unl = _sets(root, NAMES[:4],
                     ['JPEGImages/img1.jpg SegmentationClass/img1.png',
                      'img2', *NAMES[5:]])
    [overlap] = find_split_overlap(ConcatDataset([lab, unl]))
    assert overlap.names == ['img1.jpg', 'img2.jpg']
    assert (overlap.num_labeled, overlap.num_unlabeled) == (4, 7)
    assert overlap.labeled_source == osp.join(root, 'splits', 'labeled.txt')
    assert overlap.unlabeled_source == osp.join(root, 'splits',
                                                'unlabeled.txt')
    message = split_overlap_message(ConcatDataset([lab, unl]))
    assert message.startswith(
        'Labeled and unlabeled splits overlap: 2 of the 7 unlabeled images '
        f"({osp.join(root, 'splits', 'unlabeled.txt')}) are also in the "
        'labeled set of 4 images '
        f"({osp.join(root, 'splits', 'labeled.txt')}): img1.jpg, img2.jpg.")


def test_many_shared_images_are_counted_and_a_few_shown(root):
    """The whole list as 'unlabeled', the labeled set repeated (torch's
    ConcatDataset takes wrappers, which the sampler accepts too)."""
    lab, unl = _sets(root, NAMES[:8], NAMES)
    dataset = torch.utils.data.ConcatDataset(
        [RepeatDataset(lab, times=3), unl])
    [overlap] = find_split_overlap(dataset)
    assert overlap.names == [f'{name}.jpg' for name in NAMES[:8]]
    message = overlap.message()
    assert message.startswith('8 of the 10 unlabeled images')
    assert 'img0.jpg, img1.jpg, img2.jpg, img3.jpg, img4.jpg, ...' in message
    assert 'img5.jpg' not in message


def test_a_single_dataset_has_no_sources_to_compare(root):
    lab, _ = _sets(root, NAMES[:3], NAMES[3:])
    assert find_split_overlap(lab) == []


def test_sources_without_image_paths_are_left_out(root):
    """Plain torch datasets (no image paths) cannot overlap."""
    lab, _ = _sets(root, NAMES[:3], NAMES[3:])
    plain = torch.utils.data.TensorDataset(torch.zeros(4))
    dataset = torch.utils.data.ConcatDataset([lab, plain])
    assert find_split_overlap(dataset) == []

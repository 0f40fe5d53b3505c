# Copyright (c) mmsemi contributors. All rights reserved.
"""Tests of the mmsemi data transforms (values computed by hand)."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate

from mmseg.registry import TRANSFORMS
from mmsemi.datasets.transforms import (CheckSegLabel,
                                        LoadUnlabeledAnnotations, MultiBranch,
                                        PackSemiSegInputs,
                                        RandomRelativeResize,
                                        StrongColorJitter, StrongGaussianBlur,
                                        StrongRandomGrayscale)
from mmsemi.datasets.transforms.multi_branch import build_pipeline
from mmsemi.datasets.transforms.photometric import (BRIGHTNESS, CONTRAST,
                                                    HUE, SATURATION,
                                                    color_jitter,
                                                    gaussian_blur,
                                                    to_grayscale)

BRANCHES = ['sup', 'unsup_weak', 'unsup_strong1']


def _results(h=12, w=16, seed=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    return dict(
        img=img,
        img_path='x.jpg',
        img_shape=(h, w),
        ori_shape=(h, w),
        seg_fields=[],
        reduce_zero_label=False,
        label_map=None)


# --------------------------------------------------------------- registry
@pytest.mark.parametrize('name', [
    'MultiBranch', 'LoadUnlabeledAnnotations', 'CheckSegLabel',
    'PackSemiSegInputs', 'RandomRelativeResize', 'ResizeToNearestMultiple',
    'StrongColorJitter', 'StrongRandomGrayscale', 'StrongGaussianBlur'
])
def test_registered_in_mmseg(name):
    assert TRANSFORMS.get(name) is not None
    assert TRANSFORMS.get(name).__module__.startswith('mmsemi.')


# ------------------------------------------------------------ MultiBranch
def test_multi_branch_key_structure_with_none_placeholders():
    results = LoadUnlabeledAnnotations()(_results())
    mb = MultiBranch(
        branch_field=BRANCHES,
        unsup_weak=[dict(type='PackSemiSegInputs')],
        unsup_strong1=dict(type='PackSemiSegInputs'))
    out = mb(results)
    assert set(out) == {'inputs', 'data_samples'}
    assert list(out['inputs']) == BRANCHES
    assert list(out['data_samples']) == BRANCHES
    assert out['inputs']['sup'] is None and out['data_samples']['sup'] is None
    assert out['inputs']['unsup_weak'].shape == (3, 12, 16)
    assert out['data_samples']['unsup_strong1'].gt_sem_seg.data.shape == (
        1, 12, 16)

    # A labeled sample fills 'sup' only; both collate to the same structure.
    sup = MultiBranch(branch_field=BRANCHES, sup=[dict(type='PackSegInputs')])
    labeled = _results(seed=1)
    labeled['gt_seg_map'] = np.ones((12, 16), np.uint8)
    out_l = sup(labeled)
    assert out_l['inputs']['unsup_weak'] is None
    assert out_l['data_samples']['sup'].gt_sem_seg.data.sum() == 12 * 16
    batch = pseudo_collate([out_l, out])
    assert batch['inputs']['sup'][1] is None
    assert batch['inputs']['unsup_weak'][0] is None
    assert batch['inputs']['unsup_weak'][1] is not None


def test_multi_branch_shared_geometry_is_pixel_aligned(tmp_path):
    path = osp.join(tmp_path, 'img.png')
    cv2.imwrite(path, np.random.default_rng(0).integers(
        0, 256, (20, 30, 3), dtype=np.uint8))
    pipeline = build_pipeline([
        dict(type='LoadImageFromFile'),
        dict(type='LoadUnlabeledAnnotations'),
        dict(type='RandomRelativeResize', ratio_range=(0.5, 2.0)),
        dict(type='RandomCrop', crop_size=(8, 8), cat_max_ratio=1.0),
        dict(type='RandomFlip', prob=0.5),
        dict(
            type='MultiBranch',
            branch_field=BRANCHES,
            unsup_weak=[dict(type='PackSemiSegInputs')],
            unsup_strong1=[
                dict(type='StrongRandomGrayscale', prob=1.0),
                dict(type='PackSemiSegInputs')
            ])
    ])
    flips = set()
    for seed in range(6):
        np.random.seed(seed)
        out = pipeline(dict(img_path=path, seg_fields=[]))
        weak = out['inputs']['unsup_weak']
        strong = out['inputs']['unsup_strong1']
        assert weak.shape == strong.shape == (3, 8, 8)
        # Same crop/flip: the strong view is exactly the grayscale of the
        # weak view, pixel by pixel.
        expected = to_grayscale(weak.permute(1, 2, 0).numpy())
        np.testing.assert_array_equal(
            strong.permute(1, 2, 0).numpy(), expected)
        ws = out['data_samples']['unsup_weak']
        ss = out['data_samples']['unsup_strong1']
        assert ws.flip == ss.flip and ws.img_shape == ss.img_shape
        assert torch.equal(ws.gt_sem_seg.data,
                           torch.zeros(1, 8, 8, dtype=torch.int64))
        flips.add(ws.flip)
    assert flips == {True, False}  # the geometry really was random


def test_multi_branch_branches_get_independent_copies():

    def zero_in_place(results):
        results['img'][...] = 0  # in place: would leak without deep copy
        results['seg_fields'].append('poison')
        return results

    results = LoadUnlabeledAnnotations()(_results())
    original = results['img'].copy()
    mb = MultiBranch(
        branch_field=['unsup_strong1', 'unsup_weak'],
        unsup_strong1=[zero_in_place, dict(type='PackSemiSegInputs')],
        unsup_weak=[dict(type='PackSemiSegInputs')])
    out = mb(results)
    assert out['inputs']['unsup_strong1'].sum() == 0
    np.testing.assert_array_equal(
        out['inputs']['unsup_weak'].permute(1, 2, 0).numpy(), original)
    np.testing.assert_array_equal(results['img'], original)
    assert results['seg_fields'] == ['gt_seg_map']


def test_multi_branch_none_branch_and_bad_args():
    mb = MultiBranch(
        branch_field=['unsup_weak'], unsup_weak=[lambda results: None])
    assert mb(_results()) is None
    with pytest.raises(ValueError, match=r"\['unsup_x'\].*branch_field"):
        MultiBranch(branch_field=['unsup_weak'], unsup_x=[])
    with pytest.raises(ValueError, match='unique'):
        MultiBranch(branch_field=['a', 'a'], a=[])


# ---------------------------------------------------- RandomRelativeResize
@pytest.mark.parametrize('hw, ratio, out_hw', [
    ((40, 20), 0.5, (20, 10)),
    ((40, 20), 1.5, (60, 30)),
    ((20, 40), 2.0, (40, 80)),
    ((7, 10), 0.5, (4, 5)),  # long 5, short int(7 * 5 / 10 + 0.5) = 4
    ((30, 20), 0.5, (15, 10)),  # short int(20 * 15 / 30 + 0.5) = 10
])
def test_relative_resize_fixed_ratio(hw, ratio, out_hw):
    results = _results(*hw)
    out = RandomRelativeResize(ratio_range=(ratio, ratio))(results)
    assert out['img'].shape == (*out_hw, 3)
    assert out['img_shape'] == out_hw
    assert out['scale'] == (out_hw[1], out_hw[0])
    assert out['scale_factor'] == pytest.approx(
        (out_hw[1] / hw[1], out_hw[0] / hw[0]))
    assert out['keep_ratio'] is True


def test_relative_resize_range_aspect_and_nearest_seg():
    h, w = 30, 48  # long side 48 -> new long side in [24, 96]
    base = _results(h, w)
    rng = np.random.default_rng(1)
    base['gt_seg_map'] = rng.choice([0, 3, 255], (h, w)).astype(np.uint8)
    base['gt_unsup_seg_map'] = rng.choice([1, 2], (h, w)).astype(np.uint8)
    base['seg_fields'] = ['gt_seg_map', 'gt_unsup_seg_map']
    longs = []
    for seed in range(30):
        np.random.seed(seed)
        out = RandomRelativeResize((0.5, 2.0))(
            {k: (v.copy() if isinstance(v, (np.ndarray, list)) else v)
             for k, v in base.items()})
        oh, ow = out['img'].shape[:2]
        assert 24 <= ow <= 96 and ow >= oh
        assert abs(oh - h * ow / w) <= 0.5
        assert out['gt_seg_map'].shape == out['gt_unsup_seg_map'].shape == (
            oh, ow)
        assert set(np.unique(out['gt_seg_map'])) <= {0, 3, 255}
        assert set(np.unique(out['gt_unsup_seg_map'])) <= {1, 2}
        longs.append(ow)
    assert len(set(longs)) > 10  # a random integer, not a fixed scale
    np.random.seed(0)
    first = RandomRelativeResize((0.5, 2.0))(_results(h, w))['img'].shape
    np.random.seed(0)
    again = RandomRelativeResize((0.5, 2.0))(_results(h, w))['img'].shape
    assert first == again


def test_relative_resize_bad_range():
    with pytest.raises(ValueError, match='ratio_range'):
        RandomRelativeResize((2.0, 0.5))


# -------------------------------------------------- photometric functions
def _pix(*bgr_pixels):
    return np.array([bgr_pixels], dtype=np.uint8)  # (1, N, 3)


def test_grayscale_itu_601_luma_on_bgr_input():
    # BGR (10, 20, 30) is RGB (30, 20, 10): 8.97 + 11.74 + 1.14 = 21.85 -> 22
    # BGR (0, 0, 100) is pure red 100: 29.9 -> 30
    img = _pix((10, 20, 30), (0, 0, 100), (255, 255, 255))
    out = to_grayscale(img, 'bgr')
    np.testing.assert_array_equal(out[0, :, 0], [22, 30, 255])
    assert out.dtype == np.uint8 and out.shape == img.shape
    assert (out == out[..., :1]).all()  # equal channels
    # Read as RGB, (10, 20, 30) gives 2.99 + 11.74 + 3.42 = 18.15 -> 18.
    assert to_grayscale(img, 'rgb')[0, 0, 0] == 18


def test_random_grayscale_transform_prob_and_seg():
    results = _results()
    seg = np.arange(12 * 16, dtype=np.uint8).reshape(12, 16)
    results['gt_seg_map'] = seg
    img = results['img'].copy()
    out = StrongRandomGrayscale(prob=1.0)(results)
    np.testing.assert_array_equal(out['img'], to_grayscale(img))
    assert out['gt_seg_map'] is seg
    np.testing.assert_array_equal(
        seg, np.arange(12 * 16, dtype=np.uint8).reshape(12, 16))
    same = StrongRandomGrayscale(prob=0.0)(_results())
    np.testing.assert_array_equal(same['img'], _results()['img'])


def test_gaussian_blur_of_delta_is_normalised_kernel():
    img = np.zeros((15, 15, 1), np.float32)
    img[7, 7, 0] = 1.0
    out = gaussian_blur(img, sigma=1.0)
    assert out.shape == img.shape and out.dtype == np.float32
    # 7 taps (2 * ceil(3 * 1) + 1): exp(-x^2 / 2) / sum, x = -3..3.
    g = np.exp(-np.arange(-3, 4)**2 / 2.0)
    g /= g.sum()  # sum = 1 + 2 * (0.60653 + 0.13534 + 0.01111) = 2.50596
    assert g[3] == pytest.approx(1 / 2.50596, rel=1e-4)
    expected = np.zeros((15, 15), np.float32)
    expected[4:11, 4:11] = np.outer(g, g)
    np.testing.assert_allclose(out[..., 0], expected, atol=1e-6)
    assert out.sum() == pytest.approx(1.0, abs=1e-5)


def test_gaussian_blur_tiny_sigma_is_identity():
    img = _results()['img']
    np.testing.assert_array_equal(gaussian_blur(img, 0.1), img)
    results = _results()
    results['gt_seg_map'] = np.full((12, 16), 3, np.uint8)
    out = StrongGaussianBlur(prob=1.0, sigma=(0.1, 0.1))(results)
    np.testing.assert_array_equal(out['img'], img)
    assert (out['gt_seg_map'] == 3).all()
    # prob=1 with a large sigma really blurs: less variance.
    blurred = StrongGaussianBlur(prob=1.0, sigma=(2.0, 2.0))(_results())
    assert blurred['img'].std() < 0.6 * img.std()


def test_color_jitter_brightness_scales_and_clips():
    img = _pix((100, 200, 20), (0, 1, 255))
    out = color_jitter(img, [BRIGHTNESS, CONTRAST, SATURATION, HUE],
                       brightness=1.5)
    np.testing.assert_array_equal(out, _pix((150, 255, 30), (0, 2, 255)))
    out = color_jitter(img, [0, 1, 2, 3], brightness=0.5)
    np.testing.assert_array_equal(out, _pix((50, 100, 10), (0, 1, 128)))


def test_color_jitter_contrast_saturation_hue():
    # BGR pure red and pure blue: mean luma (0.299 + 0.114) * 255 / 2
    # = 52.66 -> contrast 0 gives a flat 53.
    img = _pix((0, 0, 255), (255, 0, 0))
    out = color_jitter(img, [CONTRAST, BRIGHTNESS, SATURATION, HUE],
                       contrast=0.0)
    assert (out == 53).all()
    # Saturation 0 is the grayscale image.
    rand = _results()['img']
    np.testing.assert_array_equal(
        color_jitter(rand, [SATURATION, 0, 1, 3], saturation=0.0),
        to_grayscale(rand))
    # Hue: +1/3 turn sends red to green, +1/2 turn red to cyan (BGR).
    red = _pix((0, 0, 255))
    np.testing.assert_array_equal(
        color_jitter(red, [HUE, 0, 1, 2], hue=1 / 3), _pix((0, 255, 0)))
    np.testing.assert_array_equal(
        color_jitter(red, [HUE, 0, 1, 2], hue=0.5), _pix((255, 255, 0)))
    # All no-op factors: identity (HSV round trip included).
    np.testing.assert_array_equal(color_jitter(rand, [3, 2, 1, 0]), rand)


def test_color_jitter_order_matters():
    # Gray pixels 50 and 200. Brightness 2 first: 100, 255 (clipped), then
    # contrast 0: mean 177.5 -> 178. Contrast first: 125, then x2 = 250.
    img = _pix((50, 50, 50), (200, 200, 200))
    b_first = color_jitter(img, [BRIGHTNESS, CONTRAST, 2, 3],
                           brightness=2.0, contrast=0.0)
    c_first = color_jitter(img, [CONTRAST, BRIGHTNESS, 2, 3],
                           brightness=2.0, contrast=0.0)
    assert (b_first == 178).all()
    assert (c_first == 250).all()


def test_strong_color_jitter_transform():
    img = _results()['img']
    out = StrongColorJitter(prob=0.0)(_results())
    np.testing.assert_array_equal(out['img'], img)

    # torchvision draw order: apply?, op order, then b, c, s, h factors.
    np.random.seed(5)
    assert np.random.rand() < 0.8
    order = np.random.permutation(4).tolist()
    b, c, s = (np.random.uniform(0.5, 1.5) for _ in range(3))
    h = np.random.uniform(-0.25, 0.25)
    expected = color_jitter(img, order, b, c, s, h)
    results = _results()
    seg = np.full((12, 16), 7, np.uint8)
    results['gt_seg_map'] = seg
    np.random.seed(5)
    out = StrongColorJitter()(results)
    np.testing.assert_array_equal(out['img'], expected)
    assert not np.array_equal(out['img'], img)
    assert out['gt_seg_map'] is seg and (seg == 7).all()
    with pytest.raises(ValueError, match='hue'):
        StrongColorJitter(hue=0.6)


def test_strong_pipeline_reproducible_from_numpy_seed():
    pipeline = build_pipeline([
        dict(type='StrongColorJitter'),
        dict(type='StrongRandomGrayscale'),
        dict(type='StrongGaussianBlur')
    ])
    outs = []
    for _ in range(2):
        np.random.seed(123)
        outs.append([pipeline(_results(seed=i))['img'] for i in range(5)])
    for a, b in zip(*outs):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------- loading / packing / check
def test_load_unlabeled_annotations_dummy_map():
    out = LoadUnlabeledAnnotations()(_results(5, 7))
    assert out['gt_seg_map'].dtype == np.uint8
    assert out['gt_seg_map'].shape == (5, 7)
    assert not out['gt_seg_map'].any()
    assert out['seg_fields'] == ['gt_seg_map']
    assert 'gt_unsup_seg_map' not in out
    with pytest.raises(ValueError, match='LoadImageFromFile'):
        LoadUnlabeledAnnotations()(dict(seg_fields=[]))


def test_load_unlabeled_annotations_with_gt(tmp_path):
    label = np.array([[0, 1, 2, 255, 4, 5, 6]] * 5, np.uint8)
    path = osp.join(tmp_path, 'lab.png')
    cv2.imwrite(path, label)
    results = _results(5, 7)
    results['seg_map_path'] = path
    out = LoadUnlabeledAnnotations(with_gt=True)(results)
    np.testing.assert_array_equal(out['gt_unsup_seg_map'], label)
    assert not out['gt_seg_map'].any()
    assert out['seg_fields'] == ['gt_seg_map', 'gt_unsup_seg_map']

    packed = PackSemiSegInputs()(out)
    ds = packed['data_samples']
    assert ds.gt_unsup_sem_seg.data.dtype == torch.int64
    assert ds.gt_unsup_sem_seg.data.shape == (1, 5, 7)
    assert ds.gt_unsup_sem_seg.data[0, 0].tolist() == [0, 1, 2, 255, 4, 5, 6]
    assert ds.gt_sem_seg.data.shape == (1, 5, 7)
    assert packed['inputs'].shape == (3, 5, 7)

    results = _results(5, 7)
    with pytest.raises(ValueError, match="'x.jpg'.*with_label=True"):
        LoadUnlabeledAnnotations(with_gt=True)(dict(results,
                                                    seg_map_path=None))
    missing = osp.join(tmp_path, 'nope.png')
    with pytest.raises(FileNotFoundError, match='nope.png'):
        LoadUnlabeledAnnotations(with_gt=True)(dict(results,
                                                    seg_map_path=missing))


def test_pack_semi_seg_inputs_without_unsup_gt():
    out = PackSemiSegInputs()(LoadUnlabeledAnnotations()(_results(5, 7)))
    assert 'gt_unsup_sem_seg' not in out['data_samples']
    assert out['data_samples'].img_path == 'x.jpg'


def test_check_seg_label():
    results = _results(5, 7)
    results['seg_map_path'] = 'labels/a.png'
    results['gt_seg_map'] = np.array([[0, 4, 255, 7, 9, 1, 1]] * 5, np.uint8)
    with pytest.raises(ValueError,
                       match=r"'labels/a.png' has values \[7, 9\]"):
        CheckSegLabel(num_classes=5)(results)
    results['gt_seg_map'] = np.array([[0, 4, 255, 3, 2, 1, 1]] * 5, np.uint8)
    assert CheckSegLabel(num_classes=5)(results) is results
    results['gt_seg_map'] = np.zeros((6, 7), np.uint8)
    with pytest.raises(ValueError) as err:
        CheckSegLabel(num_classes=5)(results)
    msg = str(err.value)
    assert 'labels/a.png' in msg and 'x.jpg' in msg
    assert '(6, 7)' in msg and '(5, 7)' in msg


@pytest.mark.parametrize('hw,out_hw', [((500, 375), (504, 378)),
                                       ((366, 500), (364, 504)),
                                       ((7, 20), (14, 14)),
                                       ((21, 28), (28, 28))])
def test_resize_to_nearest_multiple(hw, out_hw):
    """UniMatch V2's ``int(x / 14 + 0.5) * 14`` per side (halves up, at
    least one patch); the label keeps its original size."""
    from mmsemi.datasets.transforms import ResizeToNearestMultiple
    img = np.random.default_rng(0).integers(0, 255, (*hw, 3), np.uint8)
    label = np.zeros(hw, np.uint8)
    out = ResizeToNearestMultiple(14).transform(
        dict(img=img, gt_seg_map=label, seg_fields=['gt_seg_map']))
    assert out['img'].shape == (*out_hw, 3)
    assert out['img_shape'] == out_hw
    assert out['gt_seg_map'].shape == hw
    assert out['scale_factor'] == (out_hw[1] / hw[1], out_hw[0] / hw[0])

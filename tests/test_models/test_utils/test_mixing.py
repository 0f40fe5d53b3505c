import math

import pytest
import torch
import torch.nn.functional as F

from mmsemi.models.utils import (classmix_masks, cutmix_boxes, mix,
                                 mix_features)
from mmsemi.models.utils.mixing import _sample_box_sizes


def _box_of(mask2d):
    """(x, y, w, h) of a rectangular 2-D mask; asserts it is a rectangle."""
    rows = mask2d.any(dim=1).nonzero().flatten()
    cols = mask2d.any(dim=0).nonzero().flatten()
    y, h = int(rows[0]), len(rows)
    x, w = int(cols[0]), len(cols)
    expected = torch.zeros_like(mask2d)
    expected[y:y + h, x:x + w] = True
    assert torch.equal(mask2d, expected), 'mask is not one filled rectangle'
    return x, y, w, h


def test_mix_moves_image_label_conf_and_ignore_together():
    # Image 0: box over columns 1-2 of both rows; image 1: empty box.
    mask = torch.tensor([[[False, True, True], [False, True, True]],
                         [[False, False, False], [False, False, False]]])
    pix = torch.arange(6.).reshape(2, 3)
    img_dst = torch.stack([torch.stack([pix, pix + 10]),
                           torch.stack([pix + 100, pix + 110])])  # (2,2,2,3)
    img_src = -img_dst
    lab_dst = torch.tensor([[[1, 1, 1], [2, 2, 2]], [[3, 3, 3], [4, 4, 4]]])
    lab_src = torch.tensor([[[7, 8, 9], [255, 255, 255]],
                            [[5, 5, 5], [6, 6, 6]]])
    conf_dst = torch.tensor([[[.9, .9, .9], [.8, .8, .8]],
                             [[.7, .7, .7], [.6, .6, .6]]])
    conf_src = torch.tensor([[[.1, .2, .3], [.4, .5, .6]],
                             [[.0, .0, .0], [.0, .0, .0]]])
    ign_dst = torch.zeros(2, 2, 3, dtype=torch.uint8)
    ign_src = torch.tensor([[[0, 255, 0], [255, 0, 255]],
                            [[255, 255, 255], [255, 255, 255]]],
                           dtype=torch.uint8)
    dst = [img_dst, lab_dst, conf_dst, ign_dst]
    src = [img_src, lab_src, conf_src, ign_src]
    before = [t.clone() for t in dst + src]

    img, lab, conf, ign = mix(mask, dst, src)

    assert torch.equal(img[0, 0], torch.tensor([[0., -1., -2.],
                                                [3., -4., -5.]]))
    assert torch.equal(img[0, 1], torch.tensor([[10., -11., -12.],
                                                [13., -14., -15.]]))
    assert torch.equal(img[1], img_dst[1])
    assert torch.equal(lab[0], torch.tensor([[1, 8, 9], [2, 255, 255]]))
    assert torch.equal(lab[1], lab_dst[1])
    assert torch.equal(conf[0], torch.tensor([[.9, .2, .3], [.8, .5, .6]]))
    assert torch.equal(conf[1], conf_dst[1])
    assert torch.equal(ign[0], torch.tensor([[0, 255, 0], [0, 0, 255]],
                                            dtype=torch.uint8))
    assert torch.equal(ign[1], ign_dst[1])
    for out, ref in zip((img, lab, conf, ign), dst):
        assert out.dtype == ref.dtype and out.shape == ref.shape
    for t, ref in zip(dst + src, before):
        assert torch.equal(t, ref), 'mix modified an input in place'


def test_mix_is_differentiable_and_rejects_bad_input():
    mask = torch.tensor([[[True, False]]])
    a = torch.zeros(1, 2, 1, 2, requires_grad=True)
    b = torch.ones(1, 2, 1, 2, requires_grad=True)
    (out, ) = mix(mask, [a], [b])
    out.sum().backward()
    assert torch.equal(b.grad[0, :, 0], torch.tensor([[1., 0.], [1., 0.]]))
    assert torch.equal(a.grad[0, :, 0], torch.tensor([[0., 1.], [0., 1.]]))

    lab = torch.zeros(1, 1, 2, dtype=torch.long)
    with pytest.raises(ValueError, match='must match'):
        mix(mask, [lab], [lab.float()])
    with pytest.raises(ValueError, match='must match'):
        mix(mask, [lab], [torch.zeros(1, 2, 1, dtype=torch.long)])
    with pytest.raises(ValueError, match='not \\(N, H, W\\)'):
        mix(mask, [torch.zeros(1, 2, 2)], [torch.zeros(1, 2, 2)])
    with pytest.raises(ValueError, match='bool'):
        mix(mask.float(), [lab], [lab])
    with pytest.raises(ValueError, match='1 dst tensors but 0 src'):
        mix(mask, [lab], [])


def test_cutmix_boxes_statistics_non_square():
    height, width, num = 48, 80, 2000
    g = torch.Generator().manual_seed(0)
    masks = cutmix_boxes(num, height, width, generator=g, device='cpu')
    assert masks.shape == (num, height, width) and masks.dtype == torch.bool
    assert masks.device.type == 'cpu'

    sizes = masks.sum(dim=(1, 2))
    empty = (sizes == 0).float().mean().item()
    assert 0.45 < empty < 0.55  # p = 0.5, std of the mean ~ 0.011

    fractions = []
    for m in masks[sizes > 0][:300]:
        x, y, w, h = _box_of(m)
        assert x + w <= width and y + h <= height
        # area = U(0.02, 0.4) * H * W, w = floor(sqrt(area / r)),
        # h = floor(sqrt(area * r)): so w * h <= area < (w + 1) * (h + 1).
        assert w * h <= 0.4 * height * width
        assert (w + 1) * (h + 1) > 0.02 * height * width
        # r in [0.3, 1 / 0.3] up to flooring: h / (w + 1) < r < (h + 1) / w.
        assert h / (w + 1) < 1 / 0.3 and (h + 1) / w > 0.3
        fractions.append(w * h / (height * width))
    # Mean of U(0.02, 0.4) is 0.21; flooring only shrinks boxes slightly.
    assert 0.17 < sum(fractions) / len(fractions) < 0.23


def test_cutmix_boxes_rejection_keeps_area_and_fits():
    g = torch.Generator().manual_seed(1)
    height, width = 40, 30
    area = torch.tensor([0.02, 0.1, 0.3, 0.4] * 50,
                        dtype=torch.float64) * height * width
    x, y, w, h = _sample_box_sizes(area, height, width, (0.3, 1 / 0.3), g)
    assert torch.all(x >= 0) and torch.all(y >= 0)
    assert torch.all(x + w <= width) and torch.all(y + h <= height)
    # Area drawn once, never clipped: floor effects only.
    assert torch.all(w * h <= area)
    assert torch.all((w + 1) * (h + 1) > area)


def test_cutmix_boxes_prob_seed_and_unfittable_crop():
    g = torch.Generator().manual_seed(3)
    assert not cutmix_boxes(50, 16, 16, prob=0.0, generator=g).any()
    full = cutmix_boxes(50, 64, 64, prob=1.0, generator=g)
    assert torch.all(full.sum(dim=(1, 2)) > 0)

    a = cutmix_boxes(20, 32, 24, generator=torch.Generator().manual_seed(7))
    b = cutmix_boxes(20, 32, 24, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)

    # A 4 x 400 crop cannot hold any box of 2-40 % of its area with
    # r >= 0.3: the sampler must give up and clip instead of looping forever.
    thin = cutmix_boxes(8, 4, 400, prob=1.0, generator=g)
    for m in thin:
        x, y, w, h = _box_of(m)
        assert h == 4 and y == 0 and x + w <= 400

    with pytest.raises(ValueError, match='prob'):
        cutmix_boxes(1, 4, 4, prob=1.5)
    with pytest.raises(ValueError, match='area'):
        cutmix_boxes(1, 4, 4, area=(0.5, 0.1))


def test_classmix_selects_half_of_present_classes():
    labels = torch.tensor([
        [[0, 1, 2, 255], [3, 3, 1, 0]],  # 4 classes -> 2
        [[5, 5, 5, 5], [7, 7, 255, 255]],  # 2 classes -> 1
        [[1, 2, 4, 6], [6, 255, 1, 9]],  # 5 classes -> 3
        [[255, 255, 255, 255], [255, 255, 255, 255]],  # none -> empty
    ])
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        masks = classmix_masks(labels, ignore_index=255, generator=g)
        assert masks.shape == labels.shape and masks.dtype == torch.bool
        for lab, m in zip(labels, masks):
            present = set(lab[lab != 255].tolist())
            selected = set(lab[m].tolist())
            assert 255 not in selected
            assert selected <= present
            assert len(selected) == math.ceil(len(present) / 2)
            assert torch.equal(m, torch.isin(lab, torch.tensor(
                sorted(selected), dtype=lab.dtype)))


def test_classmix_is_random_and_accepts_num_classes():
    labels = torch.tensor([[[0, 0, 1, 1]]])
    g = torch.Generator().manual_seed(0)
    picked = [
        int(labels[classmix_masks(labels, generator=g)][0])
        for _ in range(40)
    ]
    assert set(picked) == {0, 1}

    m = classmix_masks(labels, generator=g, num_classes=3)
    assert m.sum() == 2 and len(set(labels[m].tolist())) == 1
    # uint8 labels with 255 = ignore: only class 3 is present, so it is kept.
    small = torch.tensor([[[3, 255], [255, 3]]], dtype=torch.uint8)
    assert torch.equal(classmix_masks(small, generator=g),
                       torch.tensor([[[True, False], [False, True]]]))
    with pytest.raises(ValueError, match='integer tensor'):
        classmix_masks(labels.float())


def _up_mix_down(mask, dst, src):
    """RankMatch's official feature CutMix: bilinear (align_corners=True)
    up to the image, paste, back down."""
    size = mask.shape[-2:]
    up_dst = F.interpolate(dst, size=size, mode='bilinear',
                           align_corners=True)
    up_src = F.interpolate(src, size=size, mode='bilinear',
                           align_corners=True)
    mixed = torch.where(mask[:, None], up_src, up_dst)
    return F.interpolate(mixed, size=dst.shape[-2:], mode='bilinear',
                         align_corners=True)


@pytest.mark.parametrize('full,low', [((513, 513), (33, 33)),
                                      ((321, 321), (21, 21)),
                                      ((801, 801), (51, 51)),
                                      ((80, 80), (10, 10)),
                                      ((32, 32), (4, 4)),
                                      ((801, 80), (51, 10)),
                                      ((65, 40), (1, 7))])
def test_mix_features_equals_the_official_up_mix_down(full, low):
    """Strided where (H-1)/(h-1) is an integer on both axes (the official
    crops), the up-mix-down on the pixels it reads elsewhere (the toy crop
    80 at stride 8, mixed cases)."""
    gen = torch.Generator().manual_seed(full[0])
    dst = torch.rand(2, 3, *low, generator=gen)
    src = torch.rand(2, 3, *low, generator=gen)
    mask = cutmix_boxes(2, *full, prob=1.0, generator=gen)
    got = mix_features(mask, dst, src)
    torch.testing.assert_close(got, _up_mix_down(mask, dst, src),
                               rtol=0, atol=1e-6)
    if all(s > 1 and (f - 1) % (s - 1) == 0 for f, s in zip(full, low)):
        stride_y, stride_x = ((f - 1) // (s - 1) for f, s in zip(full, low))
        expected = torch.where(mask[:, None, ::stride_y, ::stride_x], src,
                               dst)
        assert torch.equal(got, expected)


def test_mix_features_with_empty_and_full_boxes():
    dst, src = torch.rand(1, 2, 21, 21), torch.rand(1, 2, 21, 21)
    empty = torch.zeros(1, 321, 321, dtype=torch.bool)
    assert torch.equal(mix_features(empty, dst, src), dst)
    assert torch.equal(mix_features(~empty, dst, src), src)
    with pytest.raises(ValueError, match='one shape'):
        mix_features(empty, dst, src[:, :1])

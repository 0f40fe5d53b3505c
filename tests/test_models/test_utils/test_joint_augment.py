"""Joint rescale/crop, CutMix and flip of an image with its label and
confidence maps (spec §12.19)."""
import pytest
import torch

from mmsemi.models.utils import joint_geometric_augment

IGNORE = 255


def _coordinate_batch(num=4, size=16):
    """Images whose channels encode (row, column, sample): the maps hold
    the same numbers, so alignment is readable pixel by pixel."""
    rows = torch.arange(size, dtype=torch.float32)[:, None].expand(size, size)
    cols = rows.t()
    ids = torch.arange(num, dtype=torch.float32)[:, None, None].expand(
        num, size, size)
    image = torch.stack([rows.expand(num, size, size),
                         cols.expand(num, size, size), ids], dim=1)
    label = (ids * 10 + (rows > cols).float()).long()  # 2 classes/sample
    conf = 0.5 + ids / 10 + 0.01 * cols  # float, per pixel
    return image, [label, conf, rows.expand(num, size, size).clone(),
                   cols.expand(num, size, size).clone()]


@pytest.mark.parametrize('seed', range(4))
def test_image_label_confidence_stay_aligned(seed):
    image, maps = _coordinate_batch()
    gen = torch.Generator().manual_seed(seed)
    out, (label, conf, row, col), params = joint_geometric_augment(
        image, maps, [IGNORE, 0.0, -1.0, -1.0], scale_range=(0.5, 1.5),
        generator=gen)
    inside = label != IGNORE
    # interior pixels (away from the source border, where bilinear blends
    # with the padding): the image's coordinates are the maps' up to the
    # nearest-neighbour rounding
    interior = inside & (row > 0) & (row < 15) & (col > 0) & (col < 15)
    assert interior.sum() > 100
    assert (out[:, 0] - row).abs()[interior].max() <= 0.5 + 1e-4
    assert (out[:, 1] - col).abs()[interior].max() <= 0.5 + 1e-4
    # the sample identity (CutMix partner) agrees exactly
    ident = out[:, 2].round().long()
    assert torch.equal(ident[interior], (label // 10)[interior])
    # labels and confidences come from the same source pixel
    assert torch.equal(label[inside] % 10,
                       (row > col).long()[inside])
    torch.testing.assert_close(
        conf[inside], 0.5 + (label // 10)[inside] / 10 + 0.01 * col[inside])
    # padding: ignore label, zero confidence, zero image
    assert (conf[~inside] == 0).all()
    assert (out[:, :, ][~inside[:, None].expand_as(out)] == 0).all()


def test_cutmix_box_half_area_from_next_sample():
    image, maps = _coordinate_batch(num=3, size=20)
    gen = torch.Generator().manual_seed(0)
    out, (label, *_), params = joint_geometric_augment(
        image, maps, [IGNORE, 0.0, -1.0, -1.0], scale_range=(1.0, 1.0),
        flip_prob=0.0, generator=gen)
    area = params.box.flatten(1).float().mean(1)
    assert torch.allclose(area, torch.full_like(area, 0.5), atol=0.06)
    ident = label // 10
    expected = torch.where(params.box, torch.arange(3).roll(-1)[:, None,
                                                                None],
                           torch.arange(3)[:, None, None])
    assert torch.equal(ident, expected)


def test_padding_when_downscaled_and_flip():
    image, maps = _coordinate_batch(num=2, size=16)
    gen = torch.Generator().manual_seed(0)
    out, (label, conf, row, col), params = joint_geometric_augment(
        image, maps, [IGNORE, 0.0, -1.0, -1.0], scale_range=(0.5, 0.5),
        cutmix_prob=0.0, flip_prob=1.0, generator=gen)
    assert params.flip.all() and not params.box.any()
    # 8x8 rescaled image at the top-left, then flipped: top-right block
    assert (label[:, :8, 8:] != IGNORE).all()
    assert (label[:, 8:] == IGNORE).all() and (label[:, :, :8] == IGNORE).all()
    assert (conf[label == IGNORE] == 0).all()
    # flipped: columns decrease from left to right inside the block
    assert (col[:, :8, 8:].diff(dim=-1) <= 0).all()


def test_shape_checks():
    with pytest.raises(ValueError, match='map 0'):
        joint_geometric_augment(torch.zeros(2, 3, 8, 8),
                                [torch.zeros(2, 4, 4)], [0])

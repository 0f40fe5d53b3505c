"""Tiled region propagation (CorrMatch spec §5): the official sequential
semantics computed on tiles of the feature grid equal the dense shapes +
official loop, including their order dependence (§13.18), and keep the
invariants of §13.11-14."""
import pytest
import torch
import torch.nn.functional as F

from mmsemi.models.utils import propagate_regions_tiled, sample_shape_rows
from mmsemi.models.utils.region_propagation import _Tiles
from _region_propagation_oracles import (correlation_shapes,
                                         propagate_regions_parallel,
                                         propagate_regions_sequential,
                                         restrict_shapes)

K = 4


def _inputs(seed, feat=(5, 7), size=(33, 49), num=3, num_shapes=24,
            corr='semantic'):
    """Pseudo-labels from smooth logits, confidences, a CutMix box on
    image 0, a padded strip on image 1, and a correlation map whose rows
    follow the feature-resolution labels ('semantic') or are random."""
    gen = torch.Generator().manual_seed(seed)
    h, w = feat
    low = torch.randn(num, K, h, w, generator=gen) * 4
    logits = F.interpolate(low, size, mode='bilinear', align_corners=True)
    conf, labels = logits.softmax(1).max(1)
    box = torch.zeros(num, *size, dtype=torch.bool)
    box[0, 4:15, 10:30] = True
    valid = torch.ones(num, *size, dtype=torch.bool)
    valid[1, -6:] = False
    if corr == 'semantic':
        onehot = F.one_hot(low.argmax(1).flatten(1), K).transpose(1, 2)
        feats = onehot.float() * 3 + torch.randn(num, K, h * w,
                                                 generator=gen)
    else:
        feats = torch.randn(num, 3, h * w, generator=gen)
    corr_map = (feats.transpose(1, 2) @ feats).softmax(-1)
    rows = sample_shape_rows(h * w, num_shapes, generator=gen)
    return dict(labels=labels, conf=conf, box=box, valid=valid,
                corr=corr_map, rows=rows, feat=feat)


def _dense(inp, tau, propagate=propagate_regions_sequential,
           align_corners=True, **kwargs):
    shapes = correlation_shapes(inp['corr'], inp['rows'], inp['feat'],
                                inp['labels'].shape[1:],
                                align_corners=align_corners)
    shapes = restrict_shapes(shapes, inp['box'], inp['valid'])
    mask = (inp['conf'] >= tau) & inp['valid']
    return propagate(inp['labels'], mask, shapes, tau, **kwargs)


def _tiled(inp, tau, **kwargs):
    mask = (inp['conf'] >= tau) & inp['valid']
    return propagate_regions_tiled(inp['labels'], mask, inp['corr'],
                                   inp['rows'], inp['feat'], tau, K,
                                   box=inp['box'], valid=inp['valid'],
                                   **kwargs)


@pytest.mark.parametrize('corr', ['semantic', 'random'])
@pytest.mark.parametrize('tau', [0.0, 0.5, 0.7, 0.85])
def test_equals_the_official_loop_on_dense_shapes(corr, tau):
    """Crop 8k + 1 (every grid point is an output pixel, as at 321, 513
    and 801): labels and mask equal the reference bit for bit."""
    changed = 0
    for seed in range(3):
        inp = _inputs(seed, corr=corr)
        ref = _dense(inp, tau)
        labels, mask, accepted = _tiled(inp, tau, return_accepted=True)
        assert torch.equal(labels, ref[0]) and torch.equal(mask, ref[1])
        assert accepted.shape == (3, 24)
        changed += int((labels != inp['labels']).sum())
    if tau < 0.85:
        assert changed > 0  # propagation did something


@pytest.mark.parametrize('corr', ['semantic', 'random'])
@pytest.mark.parametrize('feat,size', [((5, 7), (33, 49)),
                                       ((5, 5), (40, 40)),
                                       ((6, 9), (45, 70))])
def test_equals_the_official_loop_with_align_corners_false(corr, feat,
                                                           size):
    """Stock mmseg heads upsample with align_corners=False (source
    coordinate ``(i + 1/2) s - 1/2``, clamped at 0, fused multiply-add):
    the tiled version equals the dense reference with that upsampling,
    at 8k + 1 crops and others."""
    changed = 0
    for seed in range(3):
        for tau in (0.0, 0.5, 0.7):
            inp = _inputs(seed, feat=feat, size=size, corr=corr)
            ref = _dense(inp, tau, align_corners=False)
            labels, mask = _tiled(inp, tau, align_corners=False)
            assert torch.equal(labels, ref[0]) and torch.equal(mask, ref[1])
            changed += int((labels != inp['labels']).sum())
    assert changed > 0
    # the two upsamplings give different shapes: the flag is not ignored
    inp = _inputs(0, feat=feat, size=size, corr=corr)
    assert not torch.equal(
        correlation_shapes(inp['corr'], inp['rows'], feat, size),
        correlation_shapes(inp['corr'], inp['rows'], feat, size,
                           align_corners=False))


@pytest.mark.parametrize('feat,size', [((10, 10), (80, 80)),
                                       ((6, 9), (45, 70))])
def test_equals_the_official_loop_at_other_sizes(feat, size):
    """Sizes where grid points are not output pixels (the row extremes
    then come from the tile corners)."""
    for seed in range(3):
        inp = _inputs(seed, feat=feat, size=size)
        ref = _dense(inp, 0.5)
        labels, mask = _tiled(inp, 0.5)
        assert torch.equal(labels, ref[0]) and torch.equal(mask, ref[1])


def test_reproduces_the_order_dependence_of_the_loop():
    """Where the parallel version (counts before any write) differs from
    the loop, the tiled version still equals the loop (§13.18)."""
    differing = 0
    for seed in range(12):
        inp = _inputs(seed, corr='random', num_shapes=48)
        ref = _dense(inp, 0.3)
        par = _dense(inp, 0.3, propagate_regions_parallel, num_classes=K)
        tiled = _tiled(inp, 0.3)
        assert torch.equal(tiled[0], ref[0]) and torch.equal(tiled[1],
                                                             ref[1])
        differing += int(not torch.equal(par[0], ref[0]))
    assert differing > 0


def test_box_padding_and_confident_mask_invariants():
    inp = _inputs(1)
    tau = 0.5
    mask = (inp['conf'] >= tau) & inp['valid']
    labels, new_mask = _tiled(inp, tau)
    frozen = inp['box'] | ~inp['valid']
    assert torch.equal(labels[frozen], inp['labels'][frozen])
    assert torch.equal(new_mask[frozen], mask[frozen])
    assert bool((new_mask >= mask).all())  # M* contains M0
    changed = labels != inp['labels']
    assert bool(new_mask[changed].all())  # painted pixels join the mask


def test_nothing_changes_above_one_or_with_constant_rows():
    inp = _inputs(2)
    mask = (inp['conf'] >= 0.5) & inp['valid']
    labels, new_mask = propagate_regions_tiled(
        inp['labels'], mask, inp['corr'], inp['rows'], inp['feat'], 1.01,
        K, box=inp['box'], valid=inp['valid'])
    assert torch.equal(labels, inp['labels']) and torch.equal(new_mask, mask)
    flat = torch.full_like(inp['corr'], 1.0 / inp['corr'].shape[-1])
    labels, new_mask, accepted = propagate_regions_tiled(
        inp['labels'], mask, flat, inp['rows'], inp['feat'], 0.0, K,
        return_accepted=True)
    assert torch.equal(labels, inp['labels']) and torch.equal(new_mask, mask)
    assert not accepted.any()  # constant rows give empty shapes


def test_tiles_cover_every_pixel_once():
    for feat, size in [((5, 7), (33, 49)), ((10, 10), (80, 80)),
                       ((3, 3), (3, 3))]:
        tiles = _Tiles(feat, size, 'cpu')
        index = tiles.slot_index[tiles.slot_index < size[0] * size[1]]
        assert torch.equal(index.sort()[0], torch.arange(size[0] * size[1]))
        image = torch.arange(2 * size[0] * size[1]).view(2, *size)
        assert torch.equal(tiles.from_tiles(tiles.to_tiles(image, -1),
                                            image), image)


def test_bad_inputs_are_named():
    inp = _inputs(0)
    mask = inp['conf'] >= 0.5
    with pytest.raises(ValueError, match='corr must have shape'):
        propagate_regions_tiled(inp['labels'], mask, inp['corr'][:, :5],
                                inp['rows'], inp['feat'], 0.5, K)
    with pytest.raises(ValueError, match=r'labels in \[0, 4\)'):
        propagate_regions_tiled(inp['labels'] + K, mask, inp['corr'],
                                inp['rows'], inp['feat'], 0.5, K)
    with pytest.raises(ValueError, match='conf_mask must have shape'):
        propagate_regions_tiled(inp['labels'], mask[:, :3], inp['corr'],
                                inp['rows'], inp['feat'], 0.5, K)
    with pytest.raises(ValueError, match='must not be smaller'):
        propagate_regions_tiled(inp['labels'][:, :4, :4], mask[:, :4, :4],
                                inp['corr'], inp['rows'], inp['feat'], 0.5,
                                K)


def test_ignore_labels_outside_the_confident_mask_are_kept_or_painted():
    """Pixels outside M0 may hold 255; they never enter a histogram and
    are painted like any other pixel of an accepted shape."""
    inp = _inputs(3)
    tau = 0.5
    inp['labels'] = torch.where(inp['conf'] >= tau, inp['labels'], 255)
    ref = _dense(inp, tau)
    labels, mask = _tiled(inp, tau)
    assert torch.equal(labels, ref[0]) and torch.equal(mask, ref[1])
    assert bool(((labels != 255) & (inp['labels'] == 255)).any())

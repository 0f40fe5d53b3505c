"""PseudoLabelVisualizationHook: what the methods record, when, and the
panels of the image sent to the visualiser."""
import os.path as osp
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmseg.registry import HOOKS, MODELS

import mmsemi.models  # noqa: F401
from mmsemi.engine.hooks import PseudoLabelVisualizationHook
from mmsemi.engine.hooks.pseudo_label_visualization_hook import (
    FALLBACK_PALETTE, HATCH_VALUE, compose_panels, hatch_mask)

TESTS = osp.dirname(osp.dirname(osp.abspath(__file__)))
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
from test_models._tiny import tiny_segmentor_cfg, unimatch_batch  # noqa

ROOT = osp.dirname(TESTS)
SIZE = 32
MEAN, STD = [10., 20., 30.], [2., 3., 4.]
PALETTE = [[0, 0, 0], [200, 10, 10], [10, 200, 10]]


class RecordingVisualizer:
    """Stands in for runner.visualizer: keeps what add_image receives."""

    def __init__(self):
        self.dataset_meta = dict(palette=PALETTE)
        self.images = []

    def add_image(self, name, image, step=0):
        self.images.append((name, image, step))


def _segmentor(bgr_to_rgb=True):
    cfg = tiny_segmentor_cfg()
    cfg['data_preprocessor'].update(mean=MEAN, std=STD, bgr_to_rgb=bgr_to_rgb)
    return cfg


def _model(method='UniMatch', bgr_to_rgb=True, **train_cfg):
    torch.manual_seed(0)
    model = MODELS.build(dict(type=method,
                              segmentor=_segmentor(bgr_to_rgb),
                              semi_train_cfg=train_cfg))
    return model.train()


def _runner(model, iteration):
    return SimpleNamespace(model=model, iter=iteration,
                           visualizer=RecordingVisualizer(),
                           train_dataloader=None)


def _step(hook, runner, inputs, samples):
    """One training iteration as the runner calls it; returns the record
    the model made (None when it made none)."""
    hook.before_train_iter(runner, batch_idx=runner.iter)
    runner.model.loss(inputs, samples)
    record = runner.model.pseudo_label_record
    hook.after_train_iter(runner, batch_idx=runner.iter)
    return record


def _panels(image, rows):
    """Split the composed image into ``[row][panel]`` arrays, dropping the
    title strip above the rows."""
    body = image[-rows * SIZE:]
    return [[body[r * SIZE:(r + 1) * SIZE, p * SIZE:(p + 1) * SIZE]
             for p in range(4)] for r in range(rows)]


def _expected_view(x, flip):
    """Un-normalised RGB uint8 ``(N, H, W, 3)`` computed independently."""
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    img = (x * std + mean).clamp(0, 255).round().byte()
    if flip:
        img = img.flip(1)
    return img.permute(0, 2, 3, 1).numpy()


def test_registered_and_off_in_the_base_runtime():
    assert HOOKS.get('PseudoLabelVisualizationHook') is \
        PseudoLabelVisualizationHook
    base = Config.fromfile(
        osp.join(ROOT, 'configs', 'unimatch',
                 'unimatch_r101-d16_4xb2+2-80e_voc12-classic1464-321x321.py'))
    assert base.default_hooks.pseudo_labels.enabled is False
    for method in ('unimatch', 'corrmatch', 'u2pl'):
        cfg = Config.fromfile(
            osp.join(ROOT, 'configs', 'toy',
                     f'{method}_r18s_toyshapes-1_16.py'))
        hook = cfg.default_hooks.pseudo_labels
        assert hook.type == 'PseudoLabelVisualizationHook', method
        assert hook.enabled is True and hook.interval == 100, method


def test_logged_iteration_sends_the_expected_panels():
    model = _model(conf_thresh=0.4)
    hook = PseudoLabelVisualizationHook(interval=5, max_images=2)
    inputs, samples = unimatch_batch(num_u=3, size=SIZE)
    runner = _runner(model, iteration=4)  # the 5th iteration is logged

    record = _step(hook, runner, inputs, samples)

    # the record: first max_images weak views and consistent labels/mask
    assert record is not None and record.threshold == pytest.approx(0.4)
    assert torch.equal(record.images, inputs['unsup_weak'][:2])
    assert record.labels.shape == record.mask.shape == (2, SIZE, SIZE)
    padding = torch.zeros(SIZE, SIZE, dtype=torch.bool)
    padding[-4:] = True  # unimatch_batch marks the bottom rows as padding
    assert torch.equal(record.mask, (record.conf >= 0.4) & ~padding)
    assert 0 < record.mask.sum() < record.mask.numel()

    [(name, image, step)] = runner.visualizer.images
    assert (name, step) == ('pseudo_labels', 5)
    assert image.dtype == np.uint8 and image.shape[1:] == (4 * SIZE, 3)
    header = image.shape[0] - 2 * SIZE
    assert 0 < header < SIZE  # the title strip
    view = _expected_view(inputs['unsup_weak'][:2], flip=False)
    labels, mask = record.labels.numpy(), record.mask.numpy()
    palette = np.array(PALETTE, dtype=np.uint8)
    hatch = hatch_mask(SIZE, SIZE)
    for row, (weak, pseudo, kept, conf) in enumerate(_panels(image, 2)):
        np.testing.assert_array_equal(weak, view[row])
        np.testing.assert_array_equal(pseudo, palette[labels[row]])
        keep = mask[row]
        np.testing.assert_array_equal(kept[keep], palette[labels[row]][keep])
        dropped = ~keep & ~hatch
        np.testing.assert_array_equal(kept[dropped], view[row][dropped] // 4)
        assert (kept[~keep & hatch] == HATCH_VALUE).all()
        # padding is never shown as kept
        assert not keep[-4:].any()
        gray = np.round(record.conf[row].numpy() * 255).astype(np.uint8)
        np.testing.assert_array_equal(conf, np.repeat(gray[..., None], 3,
                                                      axis=-1))
    # the request and the record are cleared after the iteration
    assert model.pseudo_label_record_request == 0
    assert model.pseudo_label_record is None


def test_other_iterations_record_nothing():
    model = _model()
    hook = PseudoLabelVisualizationHook(interval=5)
    runner = _runner(model, iteration=5)
    assert _step(hook, runner, *unimatch_batch(size=SIZE)) is None
    assert runner.visualizer.images == []


def test_disabled_hook_records_nothing():
    model = _model()
    hook = PseudoLabelVisualizationHook(interval=1, enabled=False)
    runner = _runner(model, iteration=0)
    assert _step(hook, runner, *unimatch_batch(size=SIZE)) is None
    assert runner.visualizer.images == []


def test_bgr_inputs_are_shown_as_rgb():
    model = _model(bgr_to_rgb=False)
    hook = PseudoLabelVisualizationHook(interval=1, max_images=1)
    inputs, samples = unimatch_batch(size=SIZE)
    runner = _runner(model, iteration=0)
    _step(hook, runner, inputs, samples)
    [(_, image, _)] = runner.visualizer.images
    np.testing.assert_array_equal(
        _panels(image, 1)[0][0],
        _expected_view(inputs['unsup_weak'][:1], flip=True)[0])


@pytest.mark.parametrize('method,cfg,threshold', [
    ('CorrMatch', dict(), None),
    ('U2PL', dict(max_iters=10), 0.0),
])
def test_corrmatch_and_u2pl_record_their_weak_pseudo_labels(
        method, cfg, threshold):
    model = _model(method, **cfg)
    hook = PseudoLabelVisualizationHook(interval=1, max_images=2)
    inputs, samples = unimatch_batch(size=SIZE)
    runner = _runner(model, iteration=0)
    record = _step(hook, runner, inputs, samples)
    assert torch.equal(record.images, inputs['unsup_weak'][:2])
    if threshold is None:  # CorrMatch: its dynamic threshold of the step
        threshold = float(model.thresh.tau)
    assert record.threshold == pytest.approx(threshold)
    assert torch.equal(record.mask[:, -4:],
                       torch.zeros(2, 4, SIZE, dtype=torch.bool))
    assert torch.equal(record.mask[:, :-4], record.conf[:, :-4] >= threshold)
    assert len(runner.visualizer.images) == 1


def _header(image, rows, size):
    """The title strip above ``rows`` panels of ``size`` pixels."""
    return image[:image.shape[0] - rows * size]


def test_css_picture_is_titled_with_its_conf_thresh():
    """CSS keeps (and logs) the pixels at or above conf_thresh; the
    third panel's title shows that threshold, not 0."""
    model = _model('CSS', iters_per_epoch=2,
                   strong_branches=('unsup_strong1', ),
                   conf_thresh=0.9,
                   rep_head=dict(type='ProjectionHead', channels=8,
                                 out_channels=6, dropout_ratio=0.0),
                   contrast=dict(num_anchors=4, num_negatives=3))
    hook = PseudoLabelVisualizationHook(interval=1, max_images=2)
    runner = _runner(model, iteration=0)
    size = 96  # wide enough for the title's digits
    record = _step(hook, runner, *unimatch_batch(size=size))
    assert record.threshold == pytest.approx(0.9)
    [(_, image, _)] = runner.visualizer.images
    shape = (2, size, size)
    blank = (np.zeros(shape + (3, ), np.uint8), np.zeros(shape, np.int64),
             np.zeros(shape), np.zeros(shape, bool), PALETTE)
    header = _header(image, 2, size)
    np.testing.assert_array_equal(
        header, _header(compose_panels(*blank, 0.9), 2, size))
    assert not np.array_equal(
        header, _header(compose_panels(*blank, 0.0), 2, size))


def test_u2pl_warm_up_is_skipped():
    model = _model('U2PL', max_iters=10, sup_only_iters=5)
    hook = PseudoLabelVisualizationHook(interval=1)
    runner = _runner(model, iteration=0)
    assert _step(hook, runner, *unimatch_batch(size=SIZE)) is None
    assert runner.visualizer.images == []
    assert model.pseudo_label_record_request == 0


def test_kept_black_class_differs_from_dropped_pixels():
    """Class 0 is black in VOC-like palettes: a kept black pixel must not
    look like a dropped one, and labels beyond the palette get fallback
    colours."""
    images = np.full((1, 4, 6, 3), 200, dtype=np.uint8)
    labels = np.zeros((1, 4, 6), dtype=np.int64)
    labels[0, 0, 0] = 9  # not in the palette
    conf = np.full((1, 4, 6), 0.5)
    kept = np.zeros((1, 4, 6), dtype=bool)
    kept[0, :, :3] = True
    image = compose_panels(images, labels, conf, kept, PALETTE, 0.95)
    body = image[-4:]
    assert tuple(body[0, 6]) == tuple(FALLBACK_PALETTE[9])
    kept_panel = body[:, 12:18]
    assert (kept_panel[:, 1:3] == 0).all()  # kept class 0: black
    dropped = kept_panel[:, 3:][~hatch_mask(4, 6)[:, 3:]]
    assert (dropped == 50).all()  # the image at a quarter


def test_invalid_arguments():
    with pytest.raises(ValueError, match='interval'):
        PseudoLabelVisualizationHook(interval=0)

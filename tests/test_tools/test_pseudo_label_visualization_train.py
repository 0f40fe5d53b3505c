"""The toy UniMatch config, trained through mmengine's Runner, writes the
pseudo-label image with LocalVisBackend."""
import glob
import os.path as osp

import cv2
from mmengine.config import Config
from mmengine.runner import Runner

from mmsemi.datasets.toy_shapes import TOY_SHAPES_PALETTE
from mmsemi.engine.hooks.pseudo_label_visualization_hook import (
    HATCH_VALUE, hatch_mask)
from ._helpers import TOY_CONFIG

CROP = 80  # the toy configs' crop size
ROWS = 2


def _config(work_dir: str) -> Config:
    cfg = Config.fromfile(TOY_CONFIG)
    cfg.train_cfg.max_iters = 2
    cfg.train_cfg.val_interval = 1000
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook',
                                        interval=1000, save_last=False)
    cfg.default_hooks.pseudo_labels.update(interval=2, max_images=ROWS)
    cfg.work_dir = work_dir
    # A new visualizer instance: an earlier in-process Runner's instance of
    # the same name would keep writing to that run's folder.
    cfg.visualizer.name = f'visualizer_{osp.basename(work_dir)}'
    return cfg


def test_toy_unimatch_writes_the_pseudo_label_image(toy_data_root, tmp_path,
                                                    monkeypatch):
    monkeypatch.chdir(toy_data_root)
    runner = Runner.from_cfg(_config(str(tmp_path)))
    runner.train()

    written = glob.glob(osp.join(str(tmp_path), '*', 'vis_data', 'vis_image',
                                 'pseudo_labels_*.png'))
    assert [osp.basename(p) for p in written] == ['pseudo_labels_2.png']
    image = cv2.imread(written[0], cv2.IMREAD_COLOR)[..., ::-1]  # RGB
    assert image.shape[1:] == (4 * CROP, 3)
    assert 0 < image.shape[0] - ROWS * CROP < CROP  # title strip + rows
    body = image[-ROWS * CROP:]
    palette = {tuple(c) for c in TOY_SHAPES_PALETTE}
    hatch = hatch_mask(CROP, CROP)
    for row in range(ROWS):
        weak, pseudo, kept, conf = (
            body[row * CROP:(row + 1) * CROP, p * CROP:(p + 1) * CROP]
            for p in range(4))
        assert weak.std() > 0  # an image, not a blank panel
        assert {tuple(c) for c in pseudo.reshape(-1, 3)} <= palette
        # kept pixels show the pseudo-label, dropped ones a darkened view
        same = (kept == pseudo).all(-1)
        dark = (kept == weak // 4).all(-1) | \
            (hatch & (kept == HATCH_VALUE).all(-1))
        assert (same | dark).all()
        assert (conf[..., 0] == conf[..., 1]).all() and \
            (conf[..., 1] == conf[..., 2]).all()
    assert runner.model.pseudo_label_record is None

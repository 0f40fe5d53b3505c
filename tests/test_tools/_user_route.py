# Copyright (c) mmsemi contributors. All rights reserved.
"""The documented shrinking overrides of the user-route test.

A shipped config runs as shipped except for these, none of which touches
the model structure or the data preprocessor's type:

* crop: every ``RandomCrop`` and the preprocessor's padding ``size`` become
  65 x 65 (64 x 64 for even crops; 193 x 193 for RankMatch, whose 128
  agents need a feature map of at least 128 pixels at output stride 16;
  56 x 56, four patches, for the patch-14 DINOv2 students),
  sliding-window testing uses that window (stride in the shipped
  proportion), and test-time ``Resize`` scales are divided by 8;
* batch: 2 labeled + 2 unlabeled images per process (2 for supervised-only);
* iterations: one training iteration, validation after it on one image,
  every parameter scheduler squeezed into that iteration (a ``begin`` past
  it becomes 0, an ``end`` past it becomes 1: SegFormer's 1,500-iteration
  warm-up, whose poly decay now ends at ``train_cfg.max_iters``); the
  supervised-only warm-up of U2PL (``sup_only_iters``, which the EMA hook
  follows, or its explicit ``begin_iter``) set to 0 so the one iteration
  trains every term;
* data loading in the main process, a log line every iteration, no
  checkpoint unless asked;
* offline weights: ``model.pretrained=None`` (no ImageNet weights, which
  cannot be downloaded here), the switch the weight check's message names.
"""
import copy
from typing import Any, Tuple

SHRUNK_CROP_ODD = 65  # 64 for even crops
# 13 x 13 = 169 >= 128 agents at output stride 16
RANKMATCH_CROP = 193
# four 14-pixel patches: DINOv2 students take multiples of the patch, and
# a sliding window must fit the mini Cityscapes images (64 rows)
PATCH14_CROP = 56
TEST_SCALE_DIVISOR = 8


def shrunk_crop(crop: Any, smallest: int = SHRUNK_CROP_ODD
                ) -> Tuple[int, int]:
    side = crop if isinstance(crop, int) else crop[0]
    size = smallest if side % 2 or smallest == PATCH14_CROP else smallest - 1
    return (size, size)


def _smallest_crop(model: Any) -> int:
    segmentor = model.get('segmentor', model)
    if segmentor.get('backbone', {}).get('type') == 'DINOv2':
        return PATCH14_CROP
    return RANKMATCH_CROP if model.get('type') == 'RankMatch' \
        else SHRUNK_CROP_ODD


def _walk(cfg: Any, fn) -> None:
    """Call ``fn`` on every dict below ``cfg`` (depth first)."""
    if isinstance(cfg, dict):
        fn(cfg)
        for value in cfg.values():
            _walk(value, fn)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            _walk(value, fn)


def _shrink_crops(cfg: Any, smallest: int) -> None:

    def fn(node: dict) -> None:
        if node.get('type') == 'RandomCrop':
            node['crop_size'] = shrunk_crop(node['crop_size'], smallest)
        if 'size' in node and node.get('type') == 'SegDataPreProcessor' \
                and node['size'] is not None:
            node['size'] = shrunk_crop(node['size'], smallest)
        test_cfg = node.get('test_cfg')
        if isinstance(test_cfg, dict) and test_cfg.get('mode') == 'slide':
            crop = test_cfg['crop_size']
            new = shrunk_crop(crop, smallest)
            test_cfg['stride'] = tuple(
                max(1, s * n // c)
                for s, n, c in zip(test_cfg['stride'], new, crop))
            test_cfg['crop_size'] = new

    _walk(cfg, fn)


def _shrink_test_resize(loader: Any) -> None:

    def fn(node: dict) -> None:
        if node.get('type') == 'Resize' and 'scale' in node:
            node['scale'] = tuple(s // TEST_SCALE_DIVISOR
                                  for s in node['scale'])

    _walk(loader, fn)


def shrink_config(cfg: Any, checkpoint: bool = False) -> Any:
    """A copy of ``cfg`` with the documented shrinking overrides."""
    cfg = copy.deepcopy(cfg)
    smallest = _smallest_crop(cfg.model)
    _shrink_crops(cfg.model, smallest)
    _shrink_crops(cfg.train_dataloader, smallest)
    for loader in ('val_dataloader', 'test_dataloader'):
        _shrink_test_resize(cfg[loader])
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
        cfg[loader].dataset['indices'] = 1
    train = cfg.train_dataloader
    train.num_workers = 0
    train.persistent_workers = False
    semi = train.sampler.get('type') == 'LabeledUnlabeledSampler'
    train.batch_size = 4 if semi else 2
    if semi:
        train.sampler.batch_size = 4
        train.sampler.source_ratio = [1, 1]
    cfg.train_cfg.max_iters = 1
    cfg.train_cfg.val_interval = 1
    for scheduler in cfg.get('param_scheduler') or []:
        if scheduler.get('begin', 0) >= 1:
            scheduler['begin'] = 0
        if scheduler.get('end', 1) > 1:
            scheduler['end'] = 1
    semi_train_cfg = cfg.model.get('semi_train_cfg', {})
    if {'sup_only_iters', 'sup_only_epochs'} & set(semi_train_cfg):
        semi_train_cfg.sup_only_iters = 0
        for hook in cfg.get('custom_hooks', []):
            if 'begin_iter' in hook:
                hook['begin_iter'] = 0
    cfg.model.pretrained = None
    if 'segmentor' not in cfg.model:  # a plain segmentor (supervised-only)
        cfg.model.backbone.init_cfg = None
    cfg.default_hooks.logger.interval = 1
    if not checkpoint:
        cfg.default_hooks.checkpoint = dict(
            type='CheckpointHook', interval=10**9, save_last=False,
            save_best=None)
    return cfg

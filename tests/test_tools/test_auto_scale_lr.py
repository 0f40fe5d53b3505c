# Copyright (c) mmsemi contributors. All rights reserved.
"""``tools/train.py --auto-scale-lr``: mmengine's linear lr scaling by the
actual batch (processes x train_dataloader.batch_size, labeled + unlabeled)
over the config's ``auto_scale_lr.base_batch_size``."""
import pytest

from ._helpers import FAST_CFG_OPTIONS, TOY_CONFIG, load_train_tool


def _initial_lrs(runner):
    """The lr of every parameter group of the optimizer when the schedulers
    were built (mmengine's wrapper adds an unscaled ``base_lr`` entry for
    logging to its own ``param_groups``; the optimizer's are the ones
    trained with)."""
    return sorted({round(g['initial_lr'], 12)
                   for g in runner.optim_wrapper.optimizer.param_groups})


def test_auto_scale_lr_scales_the_optimizer_lr(toy_data_root, tmp_path,
                                               monkeypatch):
    """The toy recipe's lr (backbone 0.005, decode head 10x) is for 8
    images per iteration; 2 + 2 images in one process halve it."""
    monkeypatch.chdir(toy_data_root)
    train = load_train_tool()
    options = ['--cfg-options', 'train_cfg.max_iters=1',
               'train_dataloader.batch_size=4',
               'train_dataloader.sampler.batch_size=4', *FAST_CFG_OPTIONS]
    scaled = train.main([TOY_CONFIG, '--work-dir', str(tmp_path / 'a'),
                         '--auto-scale-lr', *options])
    assert scaled.cfg.auto_scale_lr == dict(enable=True, base_batch_size=8)
    assert _initial_lrs(scaled) == [0.0025, 0.025]
    plain = train.main([TOY_CONFIG, '--work-dir', str(tmp_path / 'b'),
                        *options])
    assert plain.cfg.auto_scale_lr.enable is False
    assert _initial_lrs(plain) == [0.005, 0.05]


def test_auto_scale_lr_needs_the_config_entry(tmp_path):
    train = load_train_tool()
    args = train.parse_args([TOY_CONFIG, '--work-dir', str(tmp_path),
                             '--auto-scale-lr', '--cfg-options',
                             'auto_scale_lr=None'])
    with pytest.raises(RuntimeError, match='auto_scale_lr'):
        train.build_config(args)

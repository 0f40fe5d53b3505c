# Copyright (c) mmsemi contributors. All rights reserved.
"""Train a (semi-supervised) segmentor: mmseg 1.2.2's train.py for mmsemi.

Usage::

    python tools/train.py CONFIG [--work-dir DIR] [--resume] [--amp]
        [--auto-scale-lr] [--data-root DIR] [--cfg-options KEY=VALUE ...]
        [--launcher {none,pytorch,slurm,mpi}]

Runs from a clone without installing mmsemi (the repo root is put on
``sys.path``), from ``mim train mmsemi CONFIG`` and from
``tools/dist_train.sh`` / ``tools/slurm_train.sh``. Distributed runs on
machines without CUDA use gloo (see :mod:`mmsemi.utils.dist`); pass
``--cfg-options env_cfg.dist_cfg.backend=gloo`` to say so explicitly.

Before the Runner is built, the pretrained weights the model names are
checked (and downloaded into mmengine's cache where missing); without them
training stops with a message naming the file or URL, the config key, how
to get it and how to train without it.

An error that stops the run (while the config, the Runner or the loop is
built, in a start-up check or later) is also written with its traceback to
the work dir: into the Runner's log file once the Runner opened it, else
into ``<work_dir>/startup_error.log`` (see :mod:`mmsemi.utils.error_log`).

``--resume`` continues from the newest intact checkpoint of the work dir: a
truncated latest checkpoint is skipped with a warning (see
:mod:`mmsemi.utils.auto_resume`). Checkpoints load with
``weights_only=True`` (see :mod:`mmsemi.utils.checkpoint`).
"""
import argparse
import logging
import os
import os.path as osp
import sys
from typing import Optional, Sequence

# Prefer the mmsemi of the clone this script lives in over an installed one
# (only when run from a clone: the installed copy in mmsemi/.mim/tools has no
# mmsemi/ folder next to it).
_REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if osp.isdir(osp.join(_REPO_ROOT, 'mmsemi')) and _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.logging import print_log  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from mmseg.registry import RUNNERS  # noqa: E402

import mmsemi  # noqa: E402,F401  (registers mmsemi modules into mmseg)
from mmsemi.utils import (find_resumable_checkpoint,  # noqa: E402
                          set_data_root, setup_cpu_distributed)
from mmsemi.utils.error_log import (log_error_to_work_dir,  # noqa: E402
                                    report_error_location, resolve_work_dir)
from mmsemi.utils.pretrained_weights import \
    check_pretrained_weights  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train a semi-supervised segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        action='store_true',
        default=False,
        help='resume from the latest checkpoint in the work_dir automatically')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        default=False,
        help='scale the learning rate linearly with the actual batch '
        '(train_dataloader.batch_size x number of processes, labeled + '
        'unlabeled images) over auto_scale_lr.base_batch_size of the config')
    parser.add_argument(
        '--data-root',
        help='data root of every train/val/test dataset (split and ann '
        'files are relative to it and move with it)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch (torch >= 2.0) passes `--local-rank`, older
    # versions `--local_rank`; torchrun only sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def enable_amp(cfg: Config) -> None:
    """Switch ``cfg.optim_wrapper`` to ``AmpOptimWrapper`` (dynamic scale)."""
    optim_wrapper = cfg.optim_wrapper.type
    if optim_wrapper == 'AmpOptimWrapper':
        print_log(
            'AMP training is already enabled in your config.',
            logger='current',
            level=logging.WARNING)
        return
    if optim_wrapper != 'OptimWrapper':
        raise ValueError('`--amp` is only supported when the optimizer '
                         'wrapper type is `OptimWrapper` but got '
                         f'{optim_wrapper}.')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.loss_scale = 'dynamic'


def enable_auto_scale_lr(cfg: Config) -> None:
    """Switch on mmengine's linear learning-rate scaling, as mmdet's
    ``tools/train.py`` does: the Runner multiplies every parameter group's
    lr by ``world_size * train_dataloader.batch_size /
    auto_scale_lr.base_batch_size`` before it builds the schedulers."""
    auto_scale_lr = cfg.get('auto_scale_lr')
    if not auto_scale_lr or 'enable' not in auto_scale_lr or \
            'base_batch_size' not in auto_scale_lr:
        raise RuntimeError(
            'Can not find "auto_scale_lr" or "auto_scale_lr.enable" or '
            '"auto_scale_lr.base_batch_size" in your configuration file.')
    cfg.auto_scale_lr.enable = True


def build_config(args: argparse.Namespace) -> Config:
    """The config of a run: the file, ``--cfg-options``, ``--data-root``,
    the work dir, ``--amp``, ``--auto-scale-lr``, ``--resume`` and the
    distributed backend."""
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    data_root = args.data_root
    if data_root is None and args.cfg_options:
        # A resolved config holds one copy of the root per dataset; the
        # top-level key users reach for moves them all too.
        data_root = args.cfg_options.get('data_root')
    if data_root is not None:
        set_data_root(cfg, data_root)

    cfg.work_dir = resolve_work_dir(args.config, args.work_dir,
                                    cfg.get('work_dir', None))

    if args.amp:
        enable_amp(cfg)
    if args.auto_scale_lr:
        enable_auto_scale_lr(cfg)
    cfg.resume = args.resume
    if cfg.resume and cfg.get('load_from') is None:
        # Auto-resume: the newest intact checkpoint, not blindly the one
        # last_checkpoint names (it may be truncated).
        cfg.load_from = find_resumable_checkpoint(cfg.work_dir)

    # No-op where CUDA is available; otherwise gloo + CPU DDP.
    setup_cpu_distributed(cfg)
    return cfg


def train(cfg: Config) -> Runner:
    """Check the weights, build the Runner and train."""
    # One process per node downloads; the others find the file afterwards
    # (mmengine's own loading waits for local rank 0 the same way).
    check_pretrained_weights(
        cfg.model, check_remote=os.environ.get('LOCAL_RANK', '0') == '0')
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    runner.train()
    return runner


def main(argv: Optional[Sequence[str]] = None) -> Runner:
    """Train as the command line says; returns the finished Runner. An
    error is written to the work dir's log before it is re-raised."""
    args = parse_args(argv)
    work_dir = resolve_work_dir(args.config, args.work_dir)
    try:
        cfg = build_config(args)
        work_dir = cfg.work_dir
        return train(cfg)
    except Exception as error:
        report_error_location(log_error_to_work_dir(error, work_dir))
        raise


if __name__ == '__main__':
    main()

# Copyright (c) mmsemi contributors. All rights reserved.
"""Test (and evaluate) a segmentor; mmseg 1.2.2's tools/test.py for mmsemi.

Usage::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out DIR]
        [--show] [--show-dir DIR] [--wait-time S] [--tta]
        [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm,mpi}]

The checkpoint may be an mmsemi checkpoint (the config's
``semi_test_cfg.predict_on`` picks teacher or student) or, with a stock mmseg
config, a plain one written by ``tools/misc/extract_teacher.py``. It loads
with ``weights_only=True`` (see :mod:`mmsemi.utils.checkpoint`).
"""
import argparse
import os
import os.path as osp
import sys

# See tools/train.py: prefer the clone's mmsemi when run from a clone.
_REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if osp.isdir(osp.join(_REPO_ROOT, 'mmsemi')) and _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mmsemi  # noqa: E402,F401  (registers mmsemi modules into mmseg)
from mmsemi.utils import set_data_root, setup_cpu_distributed  # noqa: E402
from mmsemi.utils.error_log import (log_error_to_work_dir,  # noqa: E402
                                    report_error_location, resolve_work_dir)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='MMSemi test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help=('if specified, the evaluation metric results will be dumped '
              'into the directory as json'))
    parser.add_argument(
        '--out',
        type=str,
        help='The directory to save output prediction for offline evaluation')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved. '
        'If specified, it will be automatically saved '
        'to the work_dir/timestamp/show_dir')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
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
    parser.add_argument(
        '--tta', action='store_true', help='Test time augmentation')
    # See tools/train.py for the two spellings.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def trigger_visualization_hook(cfg: Config,
                               args: argparse.Namespace) -> Config:
    """Turn on drawing in the config's ``default_hooks.visualization``."""
    default_hooks = cfg.default_hooks
    if 'visualization' not in default_hooks:
        raise RuntimeError(
            'VisualizationHook must be included in default_hooks. '
            'refer to usage '
            '"visualization=dict(type=\'SegVisualizationHook\')"')
    visualization_hook = default_hooks['visualization']
    visualization_hook['draw'] = True
    if args.show:
        visualization_hook['show'] = True
        visualization_hook['wait_time'] = args.wait_time
    if args.show_dir:
        cfg.visualizer['save_dir'] = args.show_dir
    return cfg


def build_config(args: argparse.Namespace) -> Config:
    """The config of a test run: the file, ``--cfg-options``,
    ``--data-root``, the work dir, the checkpoint and the display, TTA and
    output options."""
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    data_root = args.data_root
    if data_root is None and args.cfg_options:
        data_root = args.cfg_options.get('data_root')  # see tools/train.py
    if data_root is not None:
        set_data_root(cfg, data_root)

    cfg.work_dir = resolve_work_dir(args.config, args.work_dir,
                                    cfg.get('work_dir', None))
    cfg.load_from = args.checkpoint

    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)

    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model

    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True

    setup_cpu_distributed(cfg)
    return cfg


def main() -> None:
    """Test as the command line says. An error is written to the work
    dir's log (the Runner's, else ``startup_error.log``) before it is
    re-raised, as in tools/train.py."""
    args = parse_args()
    work_dir = resolve_work_dir(args.config, args.work_dir)
    try:
        cfg = build_config(args)
        work_dir = cfg.work_dir
        Runner.from_cfg(cfg).test()
    except Exception as error:
        report_error_location(log_error_to_work_dir(error, work_dir))
        raise


if __name__ == '__main__':
    main()

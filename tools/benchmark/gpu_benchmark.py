# Copyright (c) mmsemi contributors. All rights reserved.
"""Step time and peak memory of every method's training step, in float32
and with AMP, as one table (the benchmark of ``tools/benchmark/gpu_check.sh``).

Usage::

    python tools/benchmark/gpu_benchmark.py [--device cuda] [--iters 10]
        [--warmup 3] [--methods UniMatch ...] [--precisions fp32 amp]
        [--out TABLE.md]
    python tools/benchmark/gpu_benchmark.py --device cpu --tiny   # smoke run

Default: Pascal VOC size, i.e. each method's shipped VOC config at crop 513
with ResNet-101 and its recipe's batch per GPU (UniMatch, CorrMatch and
RankMatch 2 + 2, U2PL 4 + 4, CSS 8 + 8), one process, on mini datasets in
mmseg's VOC layout written to a temporary folder (random images; see
``tools/misc/generate_mini_datasets.py``), with random weights (no
pretrained checkpoint is read) and U2PL past its supervised warm-up. Each
row is ``benchmark()`` of ``benchmark_train_step.py``: the median of
``--iters`` timed ``model.train_step`` calls after ``--warmup`` untimed
ones, peak CUDA memory (``torch.cuda.max_memory_allocated``) of the timed
steps, and, on CUDA, the synchronising CUDA calls of one more step
(``torch.cuda.set_sync_debug_mode``; the data preprocessor's copies of the
batch to the GPU included). ``amp`` switches the optimizer wrapper to
``AmpOptimWrapper`` as ``tools/train.py --amp`` does (float16, dynamic loss
scale), which needs CUDA: on the CPU its rows say so.

``--tiny`` runs the toy configs (slim ResNet-18, crop 80, 4 + 4 images) on
a generated 40-image ToyShapes instead, to smoke-test this script on a CPU.
Data-dependent parts (CorrMatch's region propagation, the contrastive
samplers) cost what they cost on random images and weights, not on a
trained model and real data.
"""
import argparse
import functools
import gc
import os
import os.path as osp
import sys
import tempfile
from typing import Any, Dict, List, Optional, Sequence

_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if osp.isdir(osp.join(_REPO_ROOT, 'mmsemi')) and _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

CONFIGS_DIR = osp.join(_REPO_ROOT, 'configs')
#: Pascal VOC, crop 513, ResNet-101, each recipe's batch per GPU.
VOC_CONFIGS = {
    'UniMatch': 'unimatch/unimatch_r101-d16_4xb2+2-80e_voc12-blended1-16-'
    '513x513.py',
    'CorrMatch': 'corrmatch/corrmatch_r101-d8_4xb2+2-80e_voc12-classic1464-'
    '513x513.py',
    'RankMatch': 'rankmatch/rankmatch_r101-d16_4xb2+2-80e_voc12-classic1464-'
    '513x513.py',
    'U2PL': 'u2pl/u2pl_r101-d8_4xb4+4-80e_voc12-classic1464-513x513.py',
    'CSS': 'css/css-mix_r101-d8_4xb8+8-80k_voc12-classic92-513x513.py',
}
TINY_CONFIGS = {
    'UniMatch': 'toy/unimatch_r18s_toyshapes-1_16.py',
    'CorrMatch': 'toy/corrmatch_r18s_toyshapes-1_16.py',
    'RankMatch': 'toy/rankmatch_r18s_toyshapes-1_16.py',
    'U2PL': 'toy/u2pl_r18s_toyshapes-1_16.py',
    'CSS': 'toy/css_r18s_toyshapes-1_16.py',
}
PRECISIONS = ('fp32', 'amp')
HEADER = ['method', 'config', 'precision', 'device', 'images/step',
          'median step (ms)', 'peak memory (MiB)', 'images/s',
          'CUDA syncs/step']


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', choices=['cuda', 'cpu'], default='cuda')
    parser.add_argument('--tiny', action='store_true',
                        help='toy configs and data (a smoke run)')
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--methods', nargs='+', choices=list(VOC_CONFIGS),
                        default=list(VOC_CONFIGS))
    parser.add_argument('--precisions', nargs='+', choices=PRECISIONS,
                        default=list(PRECISIONS))
    parser.add_argument('--out', help='also write the table to this file')
    args = parser.parse_args(argv)
    if args.iters < 1 or args.warmup < 0:
        parser.error('--iters must be >= 1 and --warmup >= 0')
    return args


def select_device(device: str) -> None:
    """Make mmengine's ``get_device()`` return ``device``; exit with a
    message when that is impossible."""
    if device == 'cpu' and 'torch' not in sys.modules:
        os.environ['CUDA_VISIBLE_DEVICES'] = ''
    import torch
    if device == 'cuda' and not torch.cuda.is_available():
        sys.exit('gpu_benchmark.py: --device cuda, but CUDA is not available '
                 f'(torch {torch.__version__}); use --device cpu --tiny for '
                 'a smoke run')
    if device == 'cpu' and torch.cuda.is_available():
        sys.exit("gpu_benchmark.py: --device cpu on a CUDA machine: run it "
                 "with CUDA_VISIBLE_DEVICES=''")


def write_data(root: str, tiny: bool) -> str:
    """The data root the configs train on, written below ``root``."""
    if tiny:
        from mmsemi.datasets.toy_shapes import generate_toy_shapes
        data_root = osp.join(root, 'toyshapes')
        generate_toy_shapes(data_root, num_train=40, num_val=8, nproc=1)
        return data_root
    from mmsemi.datasets.mini_layouts import write_mini_datasets
    write_mini_datasets(root, ['voc_mmseg'])
    return osp.join(root, 'VOCdevkit', 'VOC2012')


def run_config(path: str, precision: str, data_root: str, work_dir: str,
               tiny: bool):
    """The config of one row: the shipped one on ``data_root``, random
    weights, U2PL past its warm-up, ``--amp`` for ``amp``."""
    from mmengine.config import Config

    from mmsemi.utils import set_data_root
    cfg = Config.fromfile(path)
    set_data_root(cfg, data_root)
    cfg.model.pretrained = None
    if cfg.model.type == 'U2PL':
        cfg.model.semi_train_cfg.sup_only_iters = 0
    if tiny:
        cfg.train_dataloader.num_workers = 0
        cfg.train_dataloader.persistent_workers = False
    if precision == 'amp':
        bench_module().load_train_tool().enable_amp(cfg)
    cfg.launcher = 'none'
    cfg.work_dir = work_dir
    # mmengine keeps one logger and one visualizer per name (the start time
    # and mmseg's fixed 'visualizer'): each row gets its own.
    name = f'gpu_benchmark_{osp.basename(work_dir)}'
    cfg.experiment_name = name
    if cfg.get('visualizer'):
        cfg.visualizer.name = name
    return cfg


@functools.lru_cache(maxsize=1)
def bench_module():
    """``benchmark_train_step.py`` (the timing loop) as a module."""
    import importlib.util
    path = osp.join(osp.dirname(osp.abspath(__file__)),
                    'benchmark_train_step.py')
    spec = importlib.util.spec_from_file_location('benchmark_train_step',
                                                  path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(method: str, path: str, precision: str, device: str,
            data_root: str, args: argparse.Namespace) -> Dict[str, Any]:
    """One row: the benchmark result, or why there is none."""
    import torch
    row: Dict[str, Any] = dict(method=method, config=osp.basename(path),
                               precision=precision, device=device)
    if precision == 'amp' and device != 'cuda':
        row['error'] = 'needs CUDA (AmpOptimWrapper)'
        return row
    try:
        with tempfile.TemporaryDirectory() as work_dir:
            cfg = run_config(path, precision, data_root, work_dir, args.tiny)
            row.update(bench_module().benchmark(cfg, args.iters, args.warmup))
    except Exception as err:  # one failing row (e.g. out of memory)
        row['error'] = f'{type(err).__name__}: {str(err).splitlines()[0]}'
    finally:
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return row


def format_rows(rows: List[Dict[str, Any]]) -> str:
    """A markdown table of the rows (``-`` and the reason where a row has
    no result)."""
    import statistics
    lines = ['| ' + ' | '.join(HEADER) + ' |',
             '|' + '|'.join('---' for _ in HEADER) + '|']
    for row in rows:
        cells = [row['method'], row['config'], row['precision'],
                 row['device']]
        if 'error' in row:
            cells += ['-', '-', '-', '-', row['error']]
        else:
            median = statistics.median(row['step_ms'])
            syncs = row.get('cuda_syncs')
            cells += [str(row['images']), f'{median:.1f}',
                      f'{row["peak_mem_mib"]:.0f}'
                      if row['device'].startswith('cuda') else '-',
                      f'{row["images"] * 1000 / median:.3g}',
                      '-' if syncs is None else str(syncs)]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> List[Dict[str, Any]]:
    """Measure every (method, precision) row and print the table; returns
    the rows. Exits with 1 when a row that could run failed."""
    args = parse_args(argv)
    select_device(args.device)
    import mmsemi  # noqa: F401  (registers mmsemi modules into mmseg)
    configs = TINY_CONFIGS if args.tiny else VOC_CONFIGS
    rows = []
    with tempfile.TemporaryDirectory() as data_dir:
        data_root = write_data(data_dir, args.tiny)
        for method in args.methods:
            path = osp.join(CONFIGS_DIR, configs[method])
            for precision in args.precisions:
                rows.append(measure(method, path, precision, args.device,
                                    data_root, args))
    table = format_rows(rows)
    print(table)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(table + '\n')
    failed = [r for r in rows
              if 'error' in r and not r['error'].startswith('needs CUDA')]
    if failed:
        sys.exit(1)
    return rows


if __name__ == '__main__':
    main()

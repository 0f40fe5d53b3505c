# Copyright (c) mmsemi contributors. All rights reserved.
"""Time one training step (forward, losses, backward, optimizer step).

Usage::

    python tools/benchmark/benchmark_train_step.py CONFIG \
        [--iters 20] [--warmup 5] [--amp] [--cfg-options KEY=VALUE ...]

Builds the model, optimizer wrapper and train dataloader of CONFIG the way
``tools/train.py`` does (work_dir in a temporary folder), then times
``model.train_step(data, optim_wrapper)`` on real batches. Data loading and
hooks (e.g. the EMA teacher update) are not timed. Weights are not
initialised from pretrained checkpoints (no downloads). Single process.

Prints a markdown table: config, device, median/mean step time, peak memory
(CUDA ``max_memory_allocated``, or on CPU the growth of the process's peak
resident set size during the timed steps) and throughput in images/s
(samples of the dataloader batch, labeled + unlabeled). ``--amp`` switches
the optimizer wrapper to ``AmpOptimWrapper`` as ``tools/train.py --amp``
does (CUDA only). On CUDA, :func:`benchmark` also counts the synchronising
CUDA calls of one more (untimed) step with
``torch.cuda.set_sync_debug_mode('warn')``.
"""
import argparse
import importlib.util
import os.path as osp
import resource
import statistics
import sys
import tempfile
import time
import warnings
from typing import Any, Callable, Dict, Iterator, List, Optional

# See tools/train.py: prefer the clone's mmsemi when run from a clone.
_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if osp.isdir(osp.join(_REPO_ROOT, 'mmsemi')) and _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.device import get_device  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mmsemi  # noqa: E402,F401  (registers mmsemi modules into mmseg)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Benchmark the training step of a config')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--iters', type=int, default=20, help='number of timed steps')
    parser.add_argument(
        '--warmup', type=int, default=5, help='untimed steps before timing')
    parser.add_argument(
        '--amp', action='store_true',
        help='mixed precision (AmpOptimWrapper, as tools/train.py --amp)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, as in tools/train.py')
    args = parser.parse_args()
    if args.iters < 1 or args.warmup < 0:
        parser.error('--iters must be >= 1 and --warmup >= 0')
    return args


def endless(dataloader) -> Iterator[Dict[str, Any]]:
    """Batches forever (restarting finite samplers)."""
    while True:
        yield from dataloader


def batch_size_of(data: Dict[str, Any]) -> int:
    """Samples in a collated batch; multi-branch batches hold one entry per
    sample in every branch (None where a sample lacks that branch)."""
    inputs = data['inputs']
    if isinstance(inputs, dict):
        inputs = next(iter(inputs.values()))
    return len(inputs)


def synchronize(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def load_train_tool():
    """``tools/train.py`` as a module (its ``enable_amp`` and
    ``enable_auto_scale_lr`` are the ones every tool uses)."""
    path = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                    'train.py')
    spec = importlib.util.spec_from_file_location('mmsemi_train_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def count_cuda_syncs(step: Callable[[], Any], device: str) -> Optional[int]:
    """Synchronising CUDA calls of ``step()`` as reported by
    ``torch.cuda.set_sync_debug_mode('warn')``; None off CUDA."""
    if not device.startswith('cuda'):
        return None
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        torch.cuda.set_sync_debug_mode('warn')
        try:
            step()
        finally:
            torch.cuda.set_sync_debug_mode('default')
    return sum('synchroniz' in str(w.message) for w in caught)


def peak_rss_mib() -> float:
    """Peak resident set size of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def benchmark(cfg: Config, iters: int, warmup: int) -> Dict[str, Any]:
    """Run ``warmup + iters`` training steps and measure the last ``iters``.

    Returns:
        dict: ``device``, ``step_ms`` (list of per-step times),
        ``peak_mem_mib``, ``images`` (samples per batch) and ``cuda_syncs``
        (synchronising CUDA calls of one more step; None on the CPU).
    """
    runner = Runner.from_cfg(cfg)
    model = runner.model
    # The train loop, built as ``runner.train()`` builds it, with its
    # loader: SemiIterBasedTrainLoop gives the model the run's schedule
    # (length, epochs) that U2PL and CSS read.
    dataloader = runner.train_loop.dataloader
    model.train()
    optim_wrapper = runner.build_optim_wrapper(cfg.optim_wrapper)
    device = get_device()
    batches = endless(dataloader)

    for _ in range(warmup):
        model.train_step(next(batches), optim_wrapper=optim_wrapper)
    synchronize(device)

    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
    rss_before = peak_rss_mib()
    step_ms: List[float] = []
    images = 0
    for _ in range(iters):
        data = next(batches)  # loading is not timed
        images = batch_size_of(data)
        synchronize(device)
        start = time.perf_counter()
        model.train_step(data, optim_wrapper=optim_wrapper)
        synchronize(device)
        step_ms.append((time.perf_counter() - start) * 1000)

    if device.startswith('cuda'):
        peak_mem = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mem = peak_rss_mib() - rss_before
    syncs = count_cuda_syncs(
        lambda: model.train_step(next(batches), optim_wrapper=optim_wrapper),
        device)
    return dict(device=device, step_ms=step_ms, peak_mem_mib=peak_mem,
                images=images, cuda_syncs=syncs)


def format_table(config: str, result: Dict[str, Any]) -> str:
    step_ms = result['step_ms']
    median = statistics.median(step_ms)
    mean = statistics.mean(step_ms)
    memory = ('peak CUDA memory (MiB)' if result['device'].startswith('cuda')
              else 'peak RSS growth (MiB)')
    header = ['config', 'device', 'median step (ms)', 'mean step (ms)',
              memory, 'images/s']
    row = [
        osp.basename(config), result['device'], f'{median:.1f}',
        f'{mean:.1f}', f'{result["peak_mem_mib"]:.0f}',
        f'{result["images"] * 1000 / median:.1f}'
    ]
    return '\n'.join([
        '| ' + ' | '.join(header) + ' |',
        '|' + '|'.join('---' for _ in header) + '|',
        '| ' + ' | '.join(row) + ' |',
    ])


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.amp:
        load_train_tool().enable_amp(cfg)
    cfg.launcher = 'none'
    with tempfile.TemporaryDirectory() as work_dir:
        cfg.work_dir = work_dir
        result = benchmark(cfg, args.iters, args.warmup)
    print(format_table(args.config, result))


if __name__ == '__main__':
    main()

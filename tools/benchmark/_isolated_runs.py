# Copyright (c) mmsemi contributors. All rights reserved.
"""Shared pieces of the loss benchmarks: one fresh process per
(implementation, device) pair and the memory baseline/peak of a run."""
import multiprocessing
import resource
from typing import Callable, Dict, List, Sequence

import torch


def rss_bytes() -> int:
    """Current resident set size (Linux)."""
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def memory_baseline(device: str) -> int:
    """Bytes in use now (CUDA allocation, or CPU RSS); resets the CUDA
    peak so :func:`memory_peak_above` measures from here."""
    if device.startswith('cuda'):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated()
    import gc
    gc.collect()
    return rss_bytes()


def memory_peak_above(device: str, base: int) -> int:
    """Peak bytes above ``base``: CUDA peak allocation, or the growth of
    the process' maximum RSS on CPU (approximate)."""
    if device.startswith('cuda'):
        return torch.cuda.max_memory_allocated() - base
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base


def run_isolated(measure: Callable, impls: Sequence[str],
                 devices: Sequence[str], args) -> List[Dict]:
    """``measure(impl, device, args, queue)`` in a spawned process per
    pair; returns the dicts it puts on the queue, in order."""
    ctx = multiprocessing.get_context('spawn')
    rows = []
    for device in devices:
        for impl in impls:
            queue = ctx.Queue()
            proc = ctx.Process(target=measure,
                               args=(impl, device, args, queue))
            proc.start()
            rows.append(queue.get())
            proc.join()
    return rows


def default_devices(devices):
    return devices or (['cpu', 'cuda']
                       if torch.cuda.is_available() else ['cpu'])

# Copyright (c) mmsemi contributors. All rights reserved.
"""Helpers of tools/benchmark/benchmark_train_step.py (the timing itself is
exercised by running the script)."""
import importlib.util
import os.path as osp

import torch

from ._helpers import REPO_ROOT

SCRIPT = osp.join(REPO_ROOT, 'tools', 'benchmark', 'benchmark_train_step.py')
_spec = importlib.util.spec_from_file_location('benchmark_train_step', SCRIPT)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_batch_size_of_plain_and_multi_branch():
    plain = dict(inputs=[torch.zeros(3, 4, 4)] * 5, data_samples=[None] * 5)
    assert bench.batch_size_of(plain) == 5
    multi = dict(
        inputs=dict(
            sup=[torch.zeros(3, 4, 4)] * 2 + [None] * 2,
            unsup_weak=[None] * 2 + [torch.zeros(3, 4, 4)] * 2))
    assert bench.batch_size_of(multi) == 4


def test_endless_restarts_finite_loaders():
    batches = bench.endless([1, 2])
    assert [next(batches) for _ in range(5)] == [1, 2, 1, 2, 1]


def test_format_table_uses_median_for_throughput():
    result = dict(
        device='cpu', step_ms=[100.0, 300.0, 200.0], peak_mem_mib=12.4,
        images=8)
    lines = bench.format_table('configs/x/cfg.py', result).splitlines()
    assert lines[0].startswith('| config | device | median step (ms)')
    assert 'peak RSS growth (MiB)' in lines[0]
    # median 200 ms, mean 200 ms, 8 images / 0.2 s = 40 images/s
    assert lines[2] == '| cfg.py | cpu | 200.0 | 200.0 | 12 | 40.0 |'


def test_cuda_sync_count_is_none_and_runs_nothing_off_cuda():
    calls = []
    assert bench.count_cuda_syncs(lambda: calls.append(1), 'cpu') is None
    assert calls == []

# Copyright (c) mmsemi contributors. All rights reserved.
"""The per-class loop of tools/benchmark/benchmark_prototype_contrast.py
computes the same loss as PrototypeContrastLoss (same prototypes, same
value up to sampling), so the benchmark compares like with like."""
import importlib.util
import os.path as osp
from types import SimpleNamespace

import numpy as np
import torch

from mmsemi.models.losses.prototype_contrast import PrototypeContrastLoss
from ._helpers import REPO_ROOT

SCRIPT = osp.join(REPO_ROOT, 'tools', 'benchmark',
                  'benchmark_prototype_contrast.py')
_spec = importlib.util.spec_from_file_location('bench_proto', SCRIPT)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_loop_reference_matches_vectorised_loss():
    args = SimpleNamespace(batch=1, classes=4, size=12, dim=8, seed=0)
    rep, labels, valid = bench.make_inputs(args, 'cpu')
    torch.manual_seed(0)
    np.random.seed(0)
    loop = bench.LoopPrototypeContrast(4, 8, num_anchors=400,
                                       num_negatives=64, device='cpu')
    vec = PrototypeContrastLoss(4, 8, num_anchors=400, num_negatives=64)
    for _ in range(2):  # initialise, then an EMA step
        a = loop(rep, labels, valid)
        b = vec(rep, labels, valid)
    torch.testing.assert_close(loop.prototypes, vec.prototypes)
    # same definition, independent samples of 400 anchors x 64 negatives
    assert abs(float(a) - float(b)) < 0.05 * float(b)
    x = rep.clone().requires_grad_()
    loop(x, labels, valid).backward()
    assert x.grad.abs().sum() > 0


def test_saved_bytes_counts_distinct_storages():
    x = torch.randn(10, 10, requires_grad=True)
    out, saved = bench._saved_bytes(lambda: (x * x).sum())
    assert saved == 10 * 10 * 4  # x saved twice, one storage

# Copyright (c) mmsemi contributors. All rights reserved.
"""tools/benchmark/benchmark_rank_loss_forms.py measures what it says: its
official column is the default RankAwareKLLoss, its log-space column the
log-space option, and the difference vanishes where eps does not matter."""
import importlib.util
import os.path as osp

import torch

from mmsemi.models.losses.rank_aware_kl_loss import RankAwareKLLoss
from ._helpers import REPO_ROOT

SCRIPT = osp.join(REPO_ROOT, 'tools', 'benchmark',
                  'benchmark_rank_loss_forms.py')
_spec = importlib.util.spec_from_file_location('bench_rank_forms', SCRIPT)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def _features(scale, noise=0.5):
    gen = torch.Generator().manual_seed(0)
    pre = bench.pre_activations('segments', 2, 64, 8, gen)
    feat_s = (pre + noise * torch.randn(pre.shape, generator=gen)).relu()
    agents = torch.stack([torch.randperm(64, generator=gen)[:16].sort()[0]
                          for _ in range(2)])
    return scale * pre.relu(), scale * feat_s, agents


def test_columns_are_the_two_forms_of_the_loss():
    feat_t, feat_s, agents = _features(1.0)
    row = bench.compare_forms(feat_t, feat_s, agents)
    official = RankAwareKLLoss(num_agents=16)(feat_t, feat_s, agents)
    log_space = RankAwareKLLoss(num_agents=16, log_space=True)(
        feat_t, feat_s, agents)
    assert row['loss_official'] == float(official)
    assert row['loss_log_space'] == float(log_space)
    assert abs(row['dL']) > 0.05  # BN-scale ReLU features: eps matters
    assert row['eps0'] < 1e-5  # without eps the forms agree


def test_forms_agree_where_eps_is_negligible():
    """Scaled-down features keep the agents' probabilities far above eps."""
    row = bench.compare_forms(*_features(0.1))
    assert abs(row['dL']) < 1e-4
    assert row['dg'] < 1e-3
    assert abs(row['g_ratio'] - 1) < 1e-3


def test_segment_features_are_standardised_per_channel():
    gen = torch.Generator().manual_seed(1)
    pre = bench.pre_activations('segments', 2, 16, 12, gen)
    torch.testing.assert_close(pre.mean(dim=(0, 2, 3)), torch.zeros(16),
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(pre.std(dim=(0, 2, 3)), torch.ones(16),
                               atol=1e-5, rtol=0)

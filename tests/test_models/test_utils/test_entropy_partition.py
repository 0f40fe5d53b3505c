import math

import numpy as np
import pytest
import torch

from mmsemi.models.utils.entropy_partition import (drop_rate_at, entropy,
                                                   masked_percentile,
                                                   reliable_mask)


def _probs(n=2, k=5, h=6, w=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, k, h, w, generator=g).mul(2).softmax(dim=1)


def test_entropy_bounds():
    k = 21
    uniform = torch.full((1, k, 2, 2), 1.0 / k)
    assert torch.allclose(entropy(uniform), torch.full((1, 2, 2),
                                                       math.log(k)))
    onehot = torch.zeros(1, k, 2, 2)
    onehot[:, 3] = 1
    assert entropy(onehot).abs().max() < 1e-6
    ent = entropy(_probs(k=k))
    assert (ent >= 0).all() and (ent <= math.log(k) + 1e-5).all()


def test_drop_rate_at():
    assert drop_rate_at(0.0) == pytest.approx(0.2)
    assert drop_rate_at(0.5) == pytest.approx(0.1)
    assert drop_rate_at(1.0) == 0.0
    assert drop_rate_at(2.0) == 0.0 and drop_rate_at(-1) == pytest.approx(0.2)
    rates = [drop_rate_at(t / 10, alpha0=0.3) for t in range(11)]
    assert all(a > b for a, b in zip(rates, rates[1:]))


@pytest.mark.parametrize('q', [0.0, 17.0, 50.0, 80.0, 100.0])
def test_masked_percentile_matches_numpy(q):
    g = torch.Generator().manual_seed(1)
    vals = torch.rand(3, 40, generator=g)
    valid = torch.rand(3, 40, generator=g) > 0.3
    out = masked_percentile(vals, valid, q)
    for i in range(3):
        ref = np.percentile(vals[i][valid[i]].numpy(), q)
        assert out[i].item() == pytest.approx(ref, abs=1e-6)
    empty = masked_percentile(vals, torch.zeros_like(valid), q)
    assert torch.isinf(empty).all()


@pytest.mark.parametrize('per_image', [False, True])
@pytest.mark.parametrize('drop', [20.0, 7.5, 50.0])
def test_reliable_mask_official_rule(per_image, drop):
    probs = _probs()
    valid = torch.ones(2, 6, 7, dtype=torch.bool)
    valid[0, :2] = False  # e.g. label 255
    mask = reliable_mask(probs, valid, drop, per_image=per_image)
    ent = entropy(probs).numpy()
    v = valid.numpy()
    if per_image:
        ref = np.zeros_like(v)
        for i in range(2):
            th = np.percentile(ent[i][v[i]], 100 - drop)
            ref[i] = v[i] & (ent[i] < th)
    else:
        th = np.percentile(ent[v], 100 - drop)
        ref = v & (ent < th)
    assert (mask.numpy() == ref).all()
    # invalid excluded; reliable/unreliable partition the valid pixels
    unreliable = valid & ~mask
    assert not (mask & ~valid).any()
    assert ((mask | unreliable) == valid).all()
    for i in range(2):
        m, u = mask[i].numpy(), unreliable[i].numpy()
        assert ent[i][m].max() < ent[i][u].min()
    # kept count is (1 - drop%) of the valid pixels up to one rank
    if not per_image:
        n = int(valid.sum())
        assert abs(int(mask.sum()) - (1 - drop / 100) * n) <= 1.5


def test_reliable_mask_edge_cases():
    probs = _probs()
    valid = torch.rand(2, 6, 7) > 0.5
    assert (reliable_mask(probs, valid, 0) == valid).all()
    none = torch.zeros(2, 6, 7, dtype=torch.bool)
    assert not reliable_mask(probs, none, 20).any()
    with pytest.raises(ValueError):
        reliable_mask(probs, valid, 120)
    with pytest.raises(ValueError):
        reliable_mask(probs, valid[0], 20)

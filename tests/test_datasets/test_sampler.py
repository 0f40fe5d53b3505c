# Copyright (c) mmsemi contributors. All rights reserved.
"""Tests of LabeledUnlabeledSampler."""
from itertools import islice

import pytest
from torch.utils.data import ConcatDataset, DataLoader

from mmseg.registry import DATA_SAMPLERS
from mmsemi.datasets.samplers import LabeledUnlabeledSampler
from mmsemi.datasets.samplers.labeled_unlabeled_sampler import split_batch

N_L, N_U = 5, 7  # labeled 0..4, unlabeled 5..11 in the ConcatDataset


def _concat(n_l=N_L, n_u=N_U):
    return ConcatDataset([list(range(n_l)), list(range(n_u))])


def _take(sampler, n):
    return list(islice(iter(sampler), n))


def _batches(sampler, num_batches):
    flat = _take(sampler, num_batches * sampler.batch_size)
    bs = sampler.batch_size
    return [flat[i * bs:(i + 1) * bs] for i in range(num_batches)]


def _source_streams(sampler, num_batches):
    n_l, _ = sampler.num_per_source
    labeled, unlabeled = [], []
    for batch in _batches(sampler, num_batches):
        labeled += batch[:n_l]
        unlabeled += batch[n_l:]
    return labeled, unlabeled


@pytest.mark.parametrize('batch_size, ratio, expected', [
    (5, [1, 4], [1, 4]),
    (7, [1, 1], [4, 3]),  # int(3.5) = 3, remainder to source 0
    (8, [1, 2], [3, 5]),  # int(16 / 3) = 5
    (10, [1, 2, 2], [2, 4, 4]),
])
def test_split_batch(batch_size, ratio, expected):
    assert split_batch(batch_size, ratio) == expected


def test_batch_composition():
    sampler = LabeledUnlabeledSampler(
        _concat(), batch_size=5, source_ratio=[2, 3], seed=0)
    assert sampler.num_per_source == [2, 3]
    for batch in _batches(sampler, 30):
        assert all(0 <= i < N_L for i in batch[:2])
        assert all(N_L <= i < N_L + N_U for i in batch[2:])


def test_without_shuffle_hand_computed():
    sampler = LabeledUnlabeledSampler(
        _concat(), batch_size=4, shuffle=False, seed=0)
    assert _batches(sampler, 4) == [[0, 1, 5, 6], [2, 3, 7, 8],
                                    [4, 0, 9, 10], [1, 2, 11, 5]]
    # Rank 1 of 2 takes positions 1, 3, 5, 7 of each global stream:
    # labeled 0 1 2 3 4 0 1 2 -> 1 3 0 2; unlabeled 5..11 5 -> 6 8 10 5.
    rank1 = LabeledUnlabeledSampler(
        _concat(), batch_size=4, shuffle=False, seed=0, rank=1, world_size=2)
    assert _batches(rank1, 2) == [[1, 3, 6, 8], [0, 2, 10, 5]]


def test_each_source_stream_is_a_sequence_of_permutations():
    sampler = LabeledUnlabeledSampler(
        _concat(), batch_size=4, source_ratio=[1, 1], seed=3)
    labeled, unlabeled = _source_streams(sampler, 35)  # 70 per source
    for k in range(len(labeled) // N_L):
        assert sorted(labeled[k * N_L:(k + 1) * N_L]) == list(range(N_L))
    for k in range(len(unlabeled) // N_U):
        assert sorted(unlabeled[k * N_U:(k + 1) * N_U]) == list(
            range(N_L, N_L + N_U))
    # Shuffled: epochs are not all in the same order.
    epochs = {tuple(labeled[k * N_L:(k + 1) * N_L]) for k in range(14)}
    assert len(epochs) > 1


def test_deterministic_from_seed():
    a = _take(LabeledUnlabeledSampler(_concat(), 4, seed=7), 200)
    b = _take(LabeledUnlabeledSampler(_concat(), 4, seed=7), 200)
    c = _take(LabeledUnlabeledSampler(_concat(), 4, seed=8), 200)
    assert a == b
    assert a != c
    # A new iterator restarts the same stream.
    sampler = LabeledUnlabeledSampler(_concat(), 4, seed=7)
    assert _take(sampler, 50) == _take(sampler, 50) == a[:50]


def test_two_ranks_split_the_same_global_streams():
    kwargs = dict(batch_size=4, source_ratio=[1, 1], seed=11)
    glob_l, glob_u = _source_streams(
        LabeledUnlabeledSampler(_concat(), rank=0, world_size=1, **kwargs),
        40)
    per_rank = [
        _source_streams(
            LabeledUnlabeledSampler(
                _concat(), rank=r, world_size=2, **kwargs), 20)
        for r in range(2)
    ]
    for r, (lab, unl) in enumerate(per_rank):
        assert lab == glob_l[r::2]
        assert unl == glob_u[r::2]
    # Within the first epoch of each source the ranks are disjoint.
    first_l = [set(glob_l[:N_L][r::2]) for r in range(2)]
    assert not first_l[0] & first_l[1]
    assert first_l[0] | first_l[1] == set(range(N_L))


@pytest.mark.parametrize('rank, world_size', [(0, 1), (1, 2)])
def test_set_start_batch_matches_uninterrupted_stream(rank, world_size):
    kwargs = dict(batch_size=5, source_ratio=[2, 3], seed=5, rank=rank,
                  world_size=world_size)
    full = _take(LabeledUnlabeledSampler(_concat(), **kwargs), 5 * 40)
    for start in (0, 1, 3, 7, 13, 29):
        sampler = LabeledUnlabeledSampler(_concat(), **kwargs)
        sampler.set_start_batch(start)
        assert _take(sampler, 5 * 6) == full[5 * start:5 * (start + 6)]


def test_world_size_larger_than_a_source():
    kwargs = dict(batch_size=2, source_ratio=[1, 1], seed=2)
    glob_l, _ = _source_streams(
        LabeledUnlabeledSampler(_concat(2, 3), **kwargs), 24)
    lab3, _ = _source_streams(
        LabeledUnlabeledSampler(_concat(2, 3), rank=2, world_size=3,
                                **kwargs), 8)
    assert lab3 == glob_l[2::3]
    sampler = LabeledUnlabeledSampler(_concat(2, 3), rank=2, world_size=3,
                                      **kwargs)
    sampler.set_start_batch(5)
    assert _source_streams(sampler, 3)[0] == lab3[5:8]


def test_with_dataloader_and_registry():
    sampler = DATA_SAMPLERS.build(
        dict(type='LabeledUnlabeledSampler', batch_size=3,
             source_ratio=[1, 2]),
        default_args=dict(dataset=_concat(), seed=1))
    assert sampler.seed == 1 and sampler.num_per_source == [1, 2]
    loader = DataLoader(_concat(), batch_size=3, sampler=sampler)
    flat = _take(sampler, 30)
    for k, batch in enumerate(islice(loader, 10)):
        # ConcatDataset items: labeled i -> i, unlabeled j -> j - 5.
        expected = [i if i < N_L else i - N_L for i in flat[3 * k:3 * k + 3]]
        assert batch.tolist() == expected
    sampler.set_epoch(3)  # no-op
    assert _take(sampler, 30) == flat
    assert len(sampler) == N_L + N_U


def test_argument_errors():
    with pytest.raises(ValueError, match='unlabeled dataset is empty'):
        LabeledUnlabeledSampler(_concat(5, 0), batch_size=4, seed=0)
    with pytest.raises(ValueError, match='^labeled dataset is empty'):
        LabeledUnlabeledSampler(_concat(0, 5), batch_size=4, seed=0)
    with pytest.raises(ValueError, match=r'batch_size \(1\)'):
        LabeledUnlabeledSampler(_concat(), batch_size=1, seed=0)
    with pytest.raises(ValueError, match='3 entries.*2 datasets'):
        LabeledUnlabeledSampler(
            _concat(), batch_size=4, source_ratio=[1, 1, 1], seed=0)
    with pytest.raises(ValueError, match='unlabeled dataset 0 samples'):
        LabeledUnlabeledSampler(
            _concat(), batch_size=2, source_ratio=[4, 1], seed=0)
    with pytest.raises(ValueError, match='ConcatDataset'):
        LabeledUnlabeledSampler(list(range(4)), batch_size=2, seed=0)
    with pytest.raises(ValueError, match='rank 2'):
        LabeledUnlabeledSampler(
            _concat(), batch_size=2, seed=0, rank=2, world_size=2)
    sampler = LabeledUnlabeledSampler(_concat(), batch_size=2, seed=0)
    with pytest.raises(ValueError, match='start_batch'):
        sampler.set_start_batch(-1)

# Copyright (c) mmsemi contributors. All rights reserved.
"""SemiIterBasedTrainLoop: resuming reproduces the uninterrupted data stream
without loading the skipped batches."""
import os.path as osp
from typing import List

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import ConcatDataset, Dataset

from mmseg.registry import LOOPS
from mmsemi.engine.runner import SemiIterBasedTrainLoop

BATCH = 3
N_L, N_U = 4, 5


class CountingDataset(Dataset):
    """Items are their ConcatDataset index; every fetch is recorded."""

    def __init__(self, size: int, offset: int, fetched: List[int]) -> None:
        self.size, self.offset, self.fetched = size, offset, fetched

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, idx: int) -> dict:
        index = self.offset + idx
        self.fetched.append(index)
        return dict(inputs=torch.tensor([float(index)]), data_samples=index)


class IndexRecorder(BaseModel):
    """Records the dataset indices of every training batch."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.seen: List[List[int]] = []

    def forward(self, inputs, data_samples=None, mode='tensor'):
        if mode == 'loss':
            self.seen.append(list(data_samples))
            return dict(loss=(self.weight * torch.stack(inputs)).sum())
        return torch.stack(inputs)


def _fetched(runner) -> List[int]:
    """Indices fetched from the runner's (deep-copied) dataset."""
    return runner.train_dataloader.dataset.datasets[0].fetched


def _runner(work_dir, name, max_iters, seed, sampler=None, **kwargs):
    fetched: List[int] = []  # shared by both sources, also after deepcopy
    dataset = ConcatDataset([
        CountingDataset(N_L, 0, fetched),
        CountingDataset(N_U, N_L, fetched)
    ])
    if sampler is None:
        sampler = dict(
            type='LabeledUnlabeledSampler',
            batch_size=BATCH,
            source_ratio=[1, 2])
    return Runner(
        model=IndexRecorder(),
        work_dir=str(work_dir),
        experiment_name=name,
        train_dataloader=dict(
            dataset=dataset,
            sampler=sampler,
            batch_size=kwargs.pop('batch_size', BATCH),
            num_workers=0),
        train_cfg=dict(type='SemiIterBasedTrainLoop', max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.0)),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=4, by_epoch=False),
            logger=dict(type='LoggerHook', interval=100)),
        log_processor=dict(by_epoch=False),
        randomness=dict(seed=seed),
        default_scope='mmseg',
        **kwargs)


def test_registered():
    assert LOOPS.get('SemiIterBasedTrainLoop') is SemiIterBasedTrainLoop


def test_resume_continues_the_sampler_stream(tmp_path):
    full = _runner(tmp_path / 'full', 'full', max_iters=6, seed=123)
    full.train()
    expected = full.model.seen
    assert len(expected) == 6
    for batch in expected:  # 1 labeled + 2 unlabeled per batch
        assert batch[0] < N_L and all(i >= N_L for i in batch[1:])

    first = _runner(tmp_path / 'part', 'part1', max_iters=4, seed=123)
    first.train()
    assert first.model.seen == expected[:4]
    ckpt = osp.join(tmp_path, 'part', 'iter_4.pth')
    assert osp.isfile(ckpt)

    # A different runner seed: the loop restores the checkpoint's sampler
    # seed, so the data stream is still the original one.
    resumed = _runner(
        tmp_path / 'part',
        'part2',
        max_iters=6,
        seed=999,
        load_from=ckpt,
        resume=True)
    resumed.train()
    assert resumed.train_loop.iter == 6
    assert resumed.model.seen == expected[4:6]
    # Only the two new batches were loaded, none of the four skipped ones.
    assert _fetched(resumed) == expected[4] + expected[5]


def test_other_samplers_fall_back_to_skipping(tmp_path):
    sampler = dict(type='InfiniteSampler', shuffle=True)
    full = _runner(tmp_path / 'f', 'inf_full', 6, 7, sampler=sampler)
    full.train()
    first = _runner(tmp_path / 'p', 'inf_p1', 4, 7, sampler=sampler)
    first.train()
    resumed = _runner(
        tmp_path / 'p',
        'inf_p2',
        6,
        7,
        sampler=sampler,
        load_from=osp.join(tmp_path, 'p', 'iter_4.pth'),
        resume=True)
    resumed.train()
    assert resumed.train_loop.sampler is None
    assert resumed.model.seen == full.model.seen[4:6]
    # The parent loop loads (and discards) the skipped batches.
    assert len(_fetched(resumed)) == 6 * BATCH


def test_batch_size_mismatch_is_an_error(tmp_path):
    runner = _runner(tmp_path, 'mismatch', 2, 0, batch_size=4)
    with pytest.raises(ValueError, match=r'batch_size \(4\).*\(3\)'):
        runner.train()

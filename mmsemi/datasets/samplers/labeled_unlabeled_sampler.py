# Copyright (c) mmsemi contributors. All rights reserved.
"""Infinite sampler that fills each batch with a fixed labeled:unlabeled
ratio."""
from typing import Iterator, List, Optional, Sequence, Sized

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from mmseg.registry import DATA_SAMPLERS

SOURCE_NAMES = ('labeled', 'unlabeled')


def _source_name(source: int) -> str:
    return SOURCE_NAMES[source] if source < len(SOURCE_NAMES) else \
        f'source {source}'


def split_batch(batch_size: int, source_ratio: Sequence[int]) -> List[int]:
    """Samples per source in one batch (mmdet ``MultiSourceSampler`` rule).

    ``int(batch_size * ratio_i / sum(ratio))`` per source, the remainder to
    source 0. E.g. ``split_batch(5, [1, 4]) == [1, 4]`` and
    ``split_batch(7, [1, 1]) == [4, 3]``.
    """
    total = sum(source_ratio)
    nums = [int(batch_size * r / total) for r in source_ratio]
    nums[0] = batch_size - sum(nums[1:])
    return nums


@DATA_SAMPLERS.register_module()
class LabeledUnlabeledSampler(Sampler):
    """Infinite sampler over ``ConcatDataset([labeled, unlabeled, ...])``.

    Each block of ``batch_size`` consecutive indices holds
    ``num_per_source[0]`` labeled indices followed by ``num_per_source[1]``
    unlabeled indices (global indices of the ``ConcatDataset``), see
    :func:`split_batch`. Use it with an iteration-based loop (``set_epoch``
    is a no-op) and set the dataloader's ``batch_size`` to the same value.

    Every source has its own infinite stream: a sequence of full
    permutations of the source (epoch ``e`` of source ``s`` is
    ``default_rng([seed, s, e]).permutation(len(source))``, or ``arange``
    without shuffle). All ranks build the same global stream and rank ``r``
    takes positions ``r, r + world_size, ...``, so ranks see disjoint
    samples within an epoch of a source. Because an epoch's permutation
    depends only on ``(seed, source, epoch)``, any batch position can be
    reached without replaying the stream: :meth:`set_start_batch` is O(1).

    Args:
        dataset (ConcatDataset): with ``datasets`` and ``cumulative_sizes``
            (mmengine's or torch's ``ConcatDataset``).
        batch_size (int): samples per batch on one rank.
        source_ratio (Sequence[int]): relative share of each source.
            Defaults to [1, 1].
        shuffle (bool): shuffle each epoch of a source. Defaults to True.
        seed (int, optional): defaults to a seed shared by all ranks
            (``sync_random_seed``); the runner passes its own seed.
        rank (int, optional): override of the distributed rank (tests).
        world_size (int, optional): override of the world size (tests).
    """

    def __init__(self,
                 dataset: Sized,
                 batch_size: int,
                 source_ratio: Sequence[int] = (1, 1),
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 rank: Optional[int] = None,
                 world_size: Optional[int] = None) -> None:
        if not hasattr(dataset, 'datasets') or not hasattr(
                dataset, 'cumulative_sizes'):
            raise ValueError('LabeledUnlabeledSampler needs a ConcatDataset '
                             '(labeled, unlabeled), got '
                             f'{type(dataset).__name__}')
        sizes = [len(d) for d in dataset.datasets]
        self._check_args(sizes, batch_size, source_ratio)

        dist_rank, dist_world_size = get_dist_info()
        self.rank = dist_rank if rank is None else rank
        self.world_size = dist_world_size if world_size is None \
            else world_size
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f'rank {self.rank} is not in [0, world_size='
                             f'{self.world_size})')

        self.dataset = dataset
        self.sizes = sizes
        self.offsets = [0] + list(dataset.cumulative_sizes[:-1])
        self.batch_size = batch_size
        self.source_ratio = list(source_ratio)
        self.num_per_source = split_batch(batch_size, source_ratio)
        self.shuffle = shuffle
        self.seed = sync_random_seed() if seed is None else int(seed)
        self._start_batch = 0

    @staticmethod
    def _check_args(sizes: List[int], batch_size: int,
                    source_ratio: Sequence[int]) -> None:
        """Raise ValueError on arguments that cannot fill a batch."""
        for source, size in enumerate(sizes):
            if size == 0:
                raise ValueError(
                    f'{_source_name(source)} dataset is empty (source '
                    f'{source} of the ConcatDataset has no samples)')
        if len(source_ratio) != len(sizes):
            raise ValueError(f'source_ratio {list(source_ratio)} has '
                             f'{len(source_ratio)} entries but the '
                             f'ConcatDataset has {len(sizes)} datasets')
        if any(r <= 0 for r in source_ratio):
            raise ValueError(
                f'source_ratio entries must be > 0, got {list(source_ratio)}')
        if not isinstance(batch_size, int) or batch_size < len(sizes):
            raise ValueError(
                f'batch_size ({batch_size}) must be an int >= the '
                f'number of sources ({len(sizes)})')
        nums = split_batch(batch_size, source_ratio)
        for source, num in enumerate(nums):
            if num <= 0:
                raise ValueError(
                    f'batch_size {batch_size} with source_ratio '
                    f'{list(source_ratio)} gives the '
                    f'{_source_name(source)} dataset {num} samples per batch '
                    f'(split {nums}); raise batch_size or change the ratio')

    def _permutation(self, source: int, epoch: int) -> np.ndarray:
        """Order of source ``source`` in its ``epoch``-th pass."""
        size = self.sizes[source]
        if not self.shuffle:
            return np.arange(size)
        # Seeds must be non-negative for numpy's SeedSequence.
        rng = np.random.default_rng([self.seed % 2**63, source, epoch])
        return rng.permutation(size)

    def _rank_stream(self, source: int, start: int) -> Iterator[int]:
        """This rank's infinite index stream of ``source`` (ConcatDataset
        indices), starting at its ``start``-th element."""
        size = self.sizes[source]
        epoch, pos = divmod(self.rank + start * self.world_size, size)
        while True:
            order = self._permutation(source, epoch) + self.offsets[source]
            while pos < size:
                yield int(order[pos])
                pos += self.world_size
            pos -= size
            epoch += 1

    def __iter__(self) -> Iterator[int]:
        """Yield batches of indices forever, from the start batch on."""
        streams = [
            self._rank_stream(source, self._start_batch * num)
            for source, num in enumerate(self.num_per_source)
        ]
        while True:
            for stream, num in zip(streams, self.num_per_source):
                for _ in range(num):
                    yield next(stream)

    def set_start_batch(self, start_batch: int) -> None:
        """Make iterators created from now on start at batch
        ``start_batch`` (used when resuming at iteration ``start_batch``)."""
        if start_batch < 0:
            raise ValueError(f'start_batch must be >= 0, got {start_batch}')
        self._start_batch = int(start_batch)

    def set_seed(self, seed: int) -> None:
        """Replace the seed (the loop restores the checkpoint's seed)."""
        self.seed = int(seed)

    def set_epoch(self, epoch: int) -> None:
        """No-op: the sampler is infinite and keeps its own epochs."""

    def __len__(self) -> int:
        return len(self.dataset)

# Copyright (c) mmsemi contributors. All rights reserved.
"""Iteration-based training loop with O(1) resume of the data stream."""
import logging
import math
from typing import Any, Dict, Optional

from mmengine.dist import get_rank, get_world_size
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import IterBasedTrainLoop
from mmengine.runner.utils import set_random_seed
from mmengine.runner.loops import _InfiniteDataloaderIterator
from torch.utils.data import DataLoader

from mmseg.registry import LOOPS
from mmsemi.datasets.split_overlap import split_overlap_message

#: message-hub key that stores the sampler seed in checkpoints.
SAMPLER_SEED_KEY = 'train_sampler_seed'


def find_resumable_sampler(dataloader: DataLoader) -> Optional[Any]:
    """The dataloader's sampler if it supports ``set_start_batch``."""
    candidates = (getattr(dataloader, 'sampler', None),
                  getattr(getattr(dataloader, 'batch_sampler', None),
                          'sampler', None))
    for sampler in candidates:
        if hasattr(sampler, 'set_start_batch'):
            return sampler
    return None


@LOOPS.register_module()
class SemiIterBasedTrainLoop(IterBasedTrainLoop):
    """``IterBasedTrainLoop`` that resumes the data stream without loading
    the batches already trained on.

    mmengine's loop resumes at iteration ``n`` by fetching and discarding
    ``n`` batches, which runs the whole data pipeline ``n`` times (hours for
    an 80k-iteration run). With a sampler that has ``set_start_batch`` (such
    as ``LabeledUnlabeledSampler``) this loop instead tells the sampler to
    start at batch ``n`` and rebuilds the dataloader iterator; the batches
    are the same as in an uninterrupted run. Other samplers fall back to the
    parent behaviour.

    The sampler seed is kept in the message hub (and so in checkpoints) and
    restored on resume, so the stream is the same even when the resumed run
    got a different seed.

    Before each iteration, the Python, numpy and torch generators are
    re-seeded from (run seed, iteration, rank). Random numbers drawn by the
    model (CutMix boxes, dropout) and by data loading in the main process
    therefore depend only on the iteration, so ``--resume`` continues
    exactly as an uninterrupted run. Dataloader workers keep their own
    generators: with ``num_workers > 0`` the resumed batches hold the same
    samples but draw fresh augmentations.

    When it is built, the loop gives a model with ``set_train_schedule``
    (U2PL, CSS) the run's ``max_iters`` and the per-process epoch lengths
    of the labeled and the unlabeled set, so schedules derived from the
    length of training follow ``train_cfg.max_iters`` without restated
    numbers (see :class:`IterationCounterMixin`).

    Args: as ``IterBasedTrainLoop``.
    """

    def __init__(self, runner, dataloader, max_iters: int, **kwargs) -> None:
        super().__init__(runner, dataloader, max_iters, **kwargs)
        self.sampler = find_resumable_sampler(self.dataloader)
        if self.sampler is not None:
            self._check_batch_size()
            self._check_model_batch()
        self._warn_split_overlap()
        self._share_schedule()

    def epoch_lengths(self) -> Dict[str, int]:
        """Per-process iterations of one pass over the labeled and over the
        unlabeled set: ``floor(ceil(N / world_size) / per_process_batch)``
        (the official loaders: DistributedSampler, drop_last=True), for the
        sources of a ``LabeledUnlabeledSampler``."""
        sizes = getattr(self.sampler, 'sizes', None)
        nums = getattr(self.sampler, 'num_per_source', None)
        if sizes is None or nums is None or len(nums) != 2:
            return {}
        world_size = getattr(self.sampler, 'world_size', get_world_size())
        return {
            f'{name}_epoch': max(math.ceil(size / world_size) // num, 1)
            for name, size, num in zip(('labeled', 'unlabeled'), sizes, nums)
            if num > 0
        }

    def _share_schedule(self) -> None:
        """Give the model the run's length and epoch lengths."""
        model = self.runner.model
        if is_model_wrapper(model):
            model = model.module
        share = getattr(model, 'set_train_schedule', None)
        if share is not None:
            share(max_iters=self._max_iters, **self.epoch_lengths())

    def _check_batch_size(self) -> None:
        """Sampler blocks and dataloader batches must coincide."""
        loader_bs = self.dataloader.batch_size
        if loader_bs is None:
            loader_bs = getattr(self.dataloader.batch_sampler, 'batch_size',
                                None)
        sampler_bs = getattr(self.sampler, 'batch_size', loader_bs)
        if loader_bs != sampler_bs:
            raise ValueError(
                f'train_dataloader batch_size ({loader_bs}) differs from the '
                f'sampler batch_size ({sampler_bs}); set both to the same '
                'value so every batch has the configured source ratio')

    def _check_model_batch(self) -> None:
        """Ask the model whether it can train on the sampler's per-process
        labeled + unlabeled batch (``check_train_batch``), before anything
        else is built or loaded."""
        model = self.runner.model
        if is_model_wrapper(model):
            model = model.module
        check = getattr(model, 'check_train_batch', None)
        nums = getattr(self.sampler, 'num_per_source', None)
        if check is None or nums is None or len(nums) != 2:
            return
        check(nums[0], nums[1], world_size=get_world_size())

    def _warn_split_overlap(self) -> None:
        """Warn when the unlabeled set lists images of the labeled set
        (a warning, not an error: some setups reuse the labeled images as
        unlabeled ones on purpose)."""
        message = split_overlap_message(self.dataloader.dataset)
        if message is not None:
            print_log(message, logger='current', level=logging.WARNING)

    def _sync_sampler_seed(self) -> None:
        """Restore the checkpoint's sampler seed on resume; record it."""
        hub = self.runner.message_hub
        if not hasattr(self.sampler, 'seed'):
            return
        saved = hub.get_info(SAMPLER_SEED_KEY)
        if self._iter > 0 and saved is not None and saved != self.sampler.seed:
            print_log(
                f'Restoring the sampler seed of the checkpoint ({saved}) '
                f'instead of {self.sampler.seed}',
                logger='current',
                level=logging.WARNING)
            self.sampler.set_seed(saved)
        hub.update_info(SAMPLER_SEED_KEY, self.sampler.seed)

    def _advance_data_stream(self) -> None:
        """Position the data stream at iteration ``self._iter``."""
        if self.sampler is None:
            print_log(
                f'Advance dataloader {self._iter} steps to skip data '
                'that has already been trained',
                logger='current',
                level=logging.WARNING)
            for _ in range(self._iter):
                next(self.dataloader_iterator)
            return
        print_log(
            f'Resuming the sampler at batch {self._iter}', logger='current')
        self.sampler.set_start_batch(self._iter)
        # The iterator built in __init__ already called iter(sampler).
        self.dataloader_iterator = _InfiniteDataloaderIterator(self.dataloader)

    def _seed_iteration(self) -> None:
        """Seed every generator from (run seed, iteration, rank)."""
        base = self.runner.seed if self.runner.seed is not None else 0
        seed = (base * 1_000_003 + self._iter * 7_919 + get_rank()) % 2**31
        set_random_seed(seed)

    def run(self):
        """Launch training (``IterBasedTrainLoop.run`` with a cheap resume).
        """
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if self.sampler is not None:
            self._sync_sampler_seed()
        if self._iter > 0:
            # Rebuilds the iterator, so a restored seed takes effect too.
            self._advance_data_stream()
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()

            self._seed_iteration()
            data_batch = next(self.dataloader_iterator)
            self.run_iter(data_batch)

            self._decide_current_val_interval()
            if (self.runner.val_loop is not None
                    and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0
                         or self._iter == self._max_iters)):
                self.runner.val_loop.run()

        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model

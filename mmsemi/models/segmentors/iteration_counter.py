"""A checkpointed training-iteration counter that steps without reading the
device (U2PL's drop rate and warm-up, CSS's contrast ramp-down), and the
run's schedule (its length and epoch lengths) that such models read."""
from typing import Dict, Optional

import torch

#: Run quantities :meth:`IterationCounterMixin.set_train_schedule` offers:
#: the loop's ``max_iters`` and the per-process epoch lengths (iterations)
#: of the labeled and of the unlabeled set.
SCHEDULE_SOURCES = ('max_iters', 'labeled_epoch', 'unlabeled_epoch')


class IterationCounterMixin:
    """The buffer ``cur_iter`` (0-d long, saved in checkpoints and restored
    on resume) plus a host copy of it.

    Schedules and warm-up branches need the iteration as a Python int;
    reading the buffer every step (``int(self.cur_iter)``) would make the
    host wait for the device each time. :meth:`next_iteration` reads it
    once, on the first step after the model is built or a state dict is
    loaded, and counts on the host afterwards; the buffer is advanced in
    place on its device. Change the counter through ``load_state_dict``
    (a direct write to the buffer is not seen by the host copy until the
    next load).

    Schedule lengths come from the run, not from restated numbers:
    ``semi_train_cfg`` keys named in :attr:`run_schedule_keys` that are
    ``None`` are filled by :meth:`set_train_schedule`, which
    ``SemiIterBasedTrainLoop`` calls when it is built (before any hook's
    ``before_train`` and before a checkpoint is resumed) with
    ``train_cfg.max_iters`` and the epoch lengths of its dataloader. A value
    set in the config wins. A resumed run with the same config gets the
    same values, and ``cur_iter`` comes from the checkpoint.
    """

    #: ``semi_train_cfg`` key -> the run quantity (:data:`SCHEDULE_SOURCES`)
    #: that fills it when the config leaves it ``None``.
    run_schedule_keys: Dict[str, str] = {}

    def register_iteration_counter(self) -> None:
        """Create ``cur_iter`` (0) and its host copy."""
        self.register_buffer('cur_iter', torch.zeros((), dtype=torch.long))
        self._host_iter: Optional[int] = 0

    def next_iteration(self) -> int:
        """The index of this training iteration (0 for the first); advances
        the counter."""
        if self._host_iter is None:
            self._host_iter = int(self.cur_iter)
        current = self._host_iter
        self._host_iter += 1
        self.cur_iter += 1
        return current

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._host_iter = None  # read the loaded buffer at the next step

    def set_train_schedule(self, max_iters: Optional[int] = None,
                           labeled_epoch: Optional[int] = None,
                           unlabeled_epoch: Optional[int] = None) -> None:
        """Fill the ``semi_train_cfg`` keys of :attr:`run_schedule_keys`
        that the config left ``None`` from the training run."""
        run = dict(max_iters=max_iters, labeled_epoch=labeled_epoch,
                   unlabeled_epoch=unlabeled_epoch)
        cfg = self.semi_train_cfg
        for key, source in self.run_schedule_keys.items():
            if source not in run:
                raise KeyError(f'{type(self).__name__}.run_schedule_keys: '
                               f'{key!r} reads {source!r}, not one of '
                               f'{SCHEDULE_SOURCES}')
            if cfg.get(key) is None and run[source] is not None:
                cfg[key] = int(run[source])

    def schedule_value(self, key: str) -> int:
        """``semi_train_cfg[key]``, raising a clear error when neither the
        config nor the training run has set it."""
        value = self.semi_train_cfg.get(key)
        if value is None:
            source = self.run_schedule_keys.get(key, key)
            raise ValueError(
                f'{type(self).__name__} needs semi_train_cfg.{key}: set it '
                f'in the config or train with SemiIterBasedTrainLoop, which '
                f'fills it from the run ({source})')
        return int(value)

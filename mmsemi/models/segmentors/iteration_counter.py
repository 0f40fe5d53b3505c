"""A checkpointed training-iteration counter that steps without reading the
device (U2PL's drop rate and warm-up, CSS's contrast ramp-down)."""
from typing import Optional

import torch


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
    """

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

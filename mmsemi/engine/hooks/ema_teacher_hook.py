"""Mean-teacher EMA update with buffers, ramp-up and burn-in."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from torch import Tensor

from mmseg.registry import HOOKS

DATA_BATCH = Optional[Union[dict, tuple, list]]


def _paired(teacher: Sequence[Tuple[str, Tensor]],
            student: Sequence[Tuple[str, Tensor]],
            kind: str) -> Tuple[List[Tensor], List[Tensor]]:
    """Match teacher and student tensors by name, or raise ValueError."""
    teacher, student = list(teacher), list(student)
    t_names = [name for name, _ in teacher]
    s_names = [name for name, _ in student]
    if t_names != s_names:
        diff = sorted(set(t_names) ^ set(s_names))[:5]
        raise ValueError(
            f'EMATeacherHook: teacher and student {kind} differ '
            f'({len(t_names)} vs {len(s_names)} entries; first differing '
            f'names: {diff}); build both from the same segmentor config')
    for (name, t), (_, s) in zip(teacher, student):
        if t.shape != s.shape:
            raise ValueError(f'EMATeacherHook: {kind[:-1]} {name!r} has shape '
                             f'{tuple(t.shape)} in the teacher but '
                             f'{tuple(s.shape)} in the student')
    return [t for _, t in teacher], [s for _, s in student]


@HOOKS.register_module()
class EMATeacherHook(Hook):
    """Update the teacher as an exponential moving average of the student.

    ``teacher = (1 - m) * teacher + m * student`` (``m`` is a *momentum* in
    mmengine/mmdet's sense: ``momentum=0.001`` means decay 0.999).

    Iteration indexing: mmengine 0.10.7's ``IterBasedTrainLoop.run_iter``
    (and ``EpochBasedTrainLoop.run_iter``) calls ``after_train_iter`` *before*
    incrementing its counter, so inside :meth:`after_train_iter`
    ``i = runner.iter`` is the 0-based index of the iteration that has just
    finished (``i + 1`` optimizer steps are done). With ``t = i - begin_iter``:

    - ``i + 1 < begin_iter``: burn-in, nothing happens;
    - ``i + 1 == begin_iter``: the teacher becomes a copy of the student (the
      teacher used from iteration ``begin_iter`` on starts at the student);
    - ``t >= 0`` and ``(t + 1) % interval == 0``: EMA update with
      ``m_t = max(momentum, 1 / (t + 1))`` if ``ramp_up`` else ``momentum``.
      With ramp-up the first update (``t = 0``) copies the student and the
      next (``t = 1``) averages 0.5/0.5, as in U2PL and UniMatch-V2
      (``decay = min(1 - 1 / (t + 1), 1 - momentum)``); ``t`` counts
      iterations, not updates.

    :meth:`before_train` copies the student into the teacher when training
    starts from scratch (``runner.iter == 0`` and ``begin_iter == 0``), never
    on resume: the teacher is part of the checkpoint, and ``t`` is derived
    from ``runner.iter``, so a resumed run continues exactly.

    Floating-point buffers (BN running statistics) are averaged when
    ``update_buffers`` is True; other buffers (``num_batches_tracked``) are
    copied. With ``update_buffers=False`` EMA updates leave the teacher's
    buffers untouched; the full copies (start, burn-in) still copy them.

    The momentum used is logged as ``train/ema_momentum``.

    Args:
        momentum (float): EMA momentum ``m`` in (0, 1]. Defaults to 0.001.
        interval (int): Update every ``interval`` iterations. Defaults to 1.
        ramp_up (bool): Use ``max(momentum, 1 / (t + 1))``. Defaults to
            False.
        begin_iter (int, optional): Supervised burn-in length; the teacher
            is copied from the student after ``begin_iter`` iterations.
            Defaults to None: the method's supervised-only phase
            (``model.supervised_only_iters()``, e.g. U2PL's warm-up epoch),
            read in :meth:`before_train`, or 0 for a model without one.
        update_buffers (bool): Average floating buffers too. Defaults to
            True.
        priority (str | int): Hook priority; above normal so the update
            happens before logging and checkpointing. Defaults to
            'ABOVE_NORMAL'.
    """

    def __init__(self,
                 momentum: float = 0.001,
                 interval: int = 1,
                 ramp_up: bool = False,
                 begin_iter: Optional[int] = None,
                 update_buffers: bool = True,
                 priority: Union[str, int] = 'ABOVE_NORMAL') -> None:
        if not 0.0 < momentum <= 1.0:
            raise ValueError(
                f'EMATeacherHook: momentum must lie in (0, 1]; got {momentum}')
        if interval < 1:
            raise ValueError(
                f'EMATeacherHook: interval must be >= 1; got {interval}')
        if begin_iter is not None and begin_iter < 0:
            raise ValueError(
                f'EMATeacherHook: begin_iter must be >= 0; got {begin_iter}')
        self.momentum = momentum
        self.interval = interval
        self.ramp_up = ramp_up
        self.begin_iter_cfg = begin_iter
        self.begin_iter = 0 if begin_iter is None else begin_iter
        self.update_buffers = update_buffers
        self.priority = priority

    @staticmethod
    def _teacher_student(runner) -> Tuple[nn.Module, nn.Module]:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        teacher = getattr(model, 'teacher', None)
        student = getattr(model, 'student', None)
        if not isinstance(teacher, nn.Module) or not isinstance(
                student, nn.Module):
            raise ValueError(
                f'EMATeacherHook needs a model with `student` and `teacher` '
                f'modules; {type(model).__name__} has student='
                f'{type(student).__name__}, teacher={type(teacher).__name__} '
                '(does the method use a teacher?)')
        return teacher, student

    def before_train(self, runner) -> None:
        """Check the model and copy student -> teacher on a fresh start."""
        teacher, student = self._teacher_student(runner)
        if self.begin_iter_cfg is None:
            model = runner.model
            if is_model_wrapper(model):
                model = model.module
            sup_only = getattr(model, 'supervised_only_iters', None)
            self.begin_iter = int(sup_only()) if sup_only is not None else 0
        _paired(teacher.named_parameters(), student.named_parameters(),
                'parameters')
        _paired(teacher.named_buffers(), student.named_buffers(), 'buffers')
        if runner.iter == 0 and self.begin_iter == 0:
            self._copy(teacher, student)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        """Burn-in copy or EMA update after iteration ``runner.iter``."""
        done = runner.iter + 1  # iterations finished, see class docstring
        if done < self.begin_iter:
            return
        teacher, student = self._teacher_student(runner)
        if done == self.begin_iter:
            self._copy(teacher, student)
            runner.message_hub.update_scalar('train/ema_momentum', 1.0)
            return
        t = runner.iter - self.begin_iter
        if (t + 1) % self.interval != 0:
            return
        momentum = self.momentum_at(t)
        self._ema(teacher, student, momentum)
        runner.message_hub.update_scalar('train/ema_momentum', momentum)

    def momentum_at(self, t: int) -> float:
        """Momentum of the update ``t`` iterations after ``begin_iter``."""
        if self.ramp_up:
            return max(self.momentum, 1.0 / (t + 1))
        return self.momentum

    @staticmethod
    @torch.no_grad()
    def _copy(teacher: nn.Module, student: nn.Module) -> None:
        """Copy every parameter and buffer of the student into the teacher."""
        t_params, s_params = _paired(teacher.named_parameters(),
                                     student.named_parameters(), 'parameters')
        t_bufs, s_bufs = _paired(teacher.named_buffers(),
                                 student.named_buffers(), 'buffers')
        for t, s in zip(t_params + t_bufs, s_params + s_bufs):
            t.copy_(s)

    @torch.no_grad()
    def _ema(self, teacher: nn.Module, student: nn.Module,
             momentum: float) -> None:
        """``teacher = lerp(teacher, student, momentum)`` on params (+bufs)."""
        t_params, s_params = _paired(teacher.named_parameters(),
                                     student.named_parameters(), 'parameters')
        torch._foreach_lerp_(t_params, s_params, momentum)
        if not self.update_buffers:
            return
        t_bufs, s_bufs = _paired(teacher.named_buffers(),
                                 student.named_buffers(), 'buffers')
        t_float, s_float = [], []
        for t, s in zip(t_bufs, s_bufs):
            if t.is_floating_point():
                t_float.append(t)
                s_float.append(s)
            else:
                # Counters such as num_batches_tracked cannot be averaged.
                t.copy_(s)
        if t_float:
            torch._foreach_lerp_(t_float, s_float, momentum)

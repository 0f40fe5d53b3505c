# Copyright (c) mmsemi contributors. All rights reserved.
"""Stop training on a NaN/Inf loss or model state before a checkpoint can
be written."""
import math
from collections import defaultdict
from typing import Dict, Iterator, List, Mapping, Optional, Tuple, Union

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmseg.registry import HOOKS

DATA_BATCH = Optional[Union[dict, tuple, list]]


def _is_loss_term(key: str) -> bool:
    """Terms that are summed into the loss (mmengine's ``parse_losses``
    rule) and the total; diagnostics such as ``unsup.mask_ratio`` are not
    trained on and may legitimately be undefined."""
    return 'loss' in key


def non_finite_terms(values: Mapping[str, Union[torch.Tensor, float]]
                     ) -> List[str]:
    """Keys of ``values`` that hold a NaN or Inf (``key=value`` strings)."""
    bad = []
    for key, value in values.items():
        if isinstance(value, torch.Tensor):
            finite = bool(torch.isfinite(value.detach()).all())
            shown = value.detach().float().mean().item()
        else:
            finite = math.isfinite(float(value))
            shown = float(value)
        if not finite:
            bad.append(f'{key}={shown}')
    return bad


def _all_finite(values: List[Union[torch.Tensor, float]]) -> torch.Tensor:
    """One boolean tensor: whether every value is finite. Per-tensor flags
    are stacked on the device, so reading the result is one host sync and
    no tensor is copied."""
    tensors = [v.detach() for v in values if isinstance(v, torch.Tensor)]
    device = tensors[0].device if tensors else torch.device('cpu')
    numbers_ok = all(math.isfinite(float(v)) for v in values
                     if not isinstance(v, torch.Tensor))
    flags = [torch.isfinite(t).all().to(device) for t in tensors]
    flags.append(torch.tensor(numbers_ok, device=device))
    return torch.stack(flags).all()


def floating_state(
        model: torch.nn.Module) -> Iterator[Tuple[str, torch.Tensor]]:
    """Named floating-point parameters and buffers of ``model``: weights,
    the EMA teacher, and method state kept as buffers (prototypes, queues,
    dynamic thresholds, BN statistics). Empty tensors are left out (they
    hold nothing to check)."""
    for name, tensor in list(model.named_parameters()) + \
            list(model.named_buffers()):
        if tensor.is_floating_point() and tensor.numel():
            yield name, tensor.detach()


def state_is_finite(tensors: List[torch.Tensor],
                    device: torch.device) -> torch.Tensor:
    """One boolean tensor on ``device``: whether the state ``tensors`` is
    finite (:func:`norm_is_finite` of each), without a host sync. The norms
    come from ``torch._foreach_norm``: one fused kernel per device and
    dtype."""
    groups: Dict[tuple, List[torch.Tensor]] = defaultdict(list)
    for tensor in tensors:
        groups[(tensor.device, tensor.dtype)].append(tensor)
    flags = [
        torch.isfinite(torch.stack(torch._foreach_norm(
            group, 2, dtype=torch.float32))).all().to(device)
        for group in groups.values()
    ]
    if not flags:
        return torch.ones((), dtype=torch.bool, device=device)
    return torch.stack(flags).all()


def norm_is_finite(tensor: torch.Tensor) -> bool:
    """The criterion of :func:`state_is_finite` for one tensor: its 2-norm,
    accumulated in float32, is finite. A NaN or Inf element propagates into
    it; it also overflows when the root sum of squares passes float32's
    3.4e38 (elements around 1e16 in a million-element tensor), a diverged
    state too. Half-precision state (U2PL's queues) cannot overflow.
    (The largest magnitude would be exact, but is several times slower on
    CPUs.)"""
    norm = torch.linalg.vector_norm(tensor, 2, dtype=torch.float32)
    return bool(torch.isfinite(norm))


def non_finite_state(model: torch.nn.Module) -> List[str]:
    """Names of the floating-point parameters and buffers of ``model`` that
    fail :func:`norm_is_finite` (one sync per tensor: used only to word an
    error)."""
    return [name for name, tensor in floating_state(model)
            if not norm_is_finite(tensor)]


def summarize_names(names: List[str], per_module: int = 3) -> str:
    """``names`` grouped by top-level module, each group cut to
    ``per_module`` names plus a count, so a diverged student does not hide
    a method buffer such as ``contrast_loss.prototypes``."""
    groups: Dict[str, List[str]] = defaultdict(list)
    for name in names:
        groups[name.split('.', 1)[0]].append(name)
    parts = []
    for module, group in groups.items():
        shown = ', '.join(group[:per_module])
        if len(group) > per_module:
            shown += f', ... ({len(group)} tensors of {module})'
        parts.append(shown)
    return '; '.join(parts)


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Raise a RuntimeError when a loss term or the model state of an
    iteration is NaN or Inf.

    After every training iteration two flags are computed on the device and
    read together, i.e. one host-device synchronisation:

    * the loss terms of ``outputs`` (the ``log_vars`` of ``train_step``:
      every key containing ``loss``, the total ``loss`` included), stacked
      and checked with one ``isfinite().all()``;
    * the model state (``check_model_state``): every floating-point
      parameter and buffer of the model, i.e. the student's weights, the EMA
      teacher's weights and the method state kept as buffers (CSS
      prototypes, U2PL queues, CorrMatch's dynamic threshold, BN
      statistics), reduced to float32 2-norms by one fused kernel per
      device and dtype (:func:`state_is_finite`).

    In distributed training both flags are min-reduced over ranks first, so
    all ranks stop at the same iteration. The error names the iteration
    (1-based, as logged), every non-finite term with its value (e.g.
    ``unsup.loss_fp=nan``) and the non-finite state tensors, a few per
    top-level module with a count (e.g. ``Non-finite model state at
    iteration 8: contrast_loss.prototypes``). Checking the state catches a weight update
    that diverged (the loss of that iteration was still finite) and method
    state that went non-finite inside a forward pass.

    The default priority ('LOW') runs it after the logger and before
    mmengine's ``CheckpointHook`` ('VERY_LOW'), so no checkpoint of that
    iteration is written; ``CheckpointHook`` writes its last checkpoint in
    ``after_train_iter`` too, so nothing is saved after the error.
    :meth:`before_save_checkpoint` also refuses to write a checkpoint whose
    ``state_dict`` holds a NaN or Inf (e.g. with ``check_model_state``
    off).

    Args:
        enabled (bool): False turns all checks off
            (``default_hooks.finite_loss.enabled=False``).
        check_model_state (bool): also check the model's parameters and
            buffers after every iteration. Defaults to True.
        priority (str | int): hook priority. Defaults to 'LOW'.
    """

    def __init__(self, enabled: bool = True, check_model_state: bool = True,
                 priority: Union[str, int] = 'LOW') -> None:
        self.enabled = enabled
        self.check_model_state = check_model_state
        self.priority = priority

    @staticmethod
    def _model(runner) -> torch.nn.Module:
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[Dict] = None) -> None:
        """Check the loss terms and the model state of this iteration."""
        if not self.enabled:
            return
        terms = {key: value for key, value in (outputs or {}).items()
                 if _is_loss_term(key)
                 and isinstance(value, (torch.Tensor, float, int))}
        state = ([tensor for _, tensor in floating_state(self._model(runner))]
                 if self.check_model_state else [])
        if not terms and not state:
            return
        loss_ok, state_ok = self._finite_flags(terms, state)
        if loss_ok and state_ok:
            return
        raise RuntimeError(
            self._describe(runner, terms, loss_ok, state_ok) +
            ' Training stopped before writing a checkpoint of this '
            'iteration. Lower the learning rate (optim_wrapper.optimizer.lr)'
            ', clip gradients (optim_wrapper.clip_grad) or check the inputs '
            'of this batch.')

    @staticmethod
    def _finite_flags(terms: Dict, state: List[torch.Tensor]
                      ) -> Tuple[bool, bool]:
        """(loss terms finite, state finite) on every rank, read with one
        host sync."""
        tensors = [v for v in terms.values() if isinstance(v, torch.Tensor)]
        device = (tensors or state)[0].device if (tensors or state) \
            else torch.device('cpu')
        true = torch.ones((), dtype=torch.bool, device=device)
        flags = torch.stack([
            _all_finite(list(terms.values())).to(device) if terms else true,
            state_is_finite(state, device) if state else true
        ]).to(torch.int32)
        if get_world_size() > 1:
            all_reduce(flags, op='min')
        loss_ok, state_ok = flags.tolist()
        return bool(loss_ok), bool(state_ok)

    def _describe(self, runner, terms: Dict, loss_ok: bool,
                  state_ok: bool) -> str:
        """The sentences naming what is non-finite (on this rank)."""
        iteration = runner.iter + 1
        sentences = []
        if not loss_ok:
            bad = non_finite_terms(terms)
            where = (', '.join(bad) if bad else
                     'a loss term on another rank (this rank is finite)')
            sentences.append(
                f'Non-finite loss at iteration {iteration}: {where}.')
        if not state_ok:
            bad = non_finite_state(self._model(runner))
            where = (summarize_names(bad) if bad else
                     'a tensor on another rank (this rank is finite)')
            sentences.append(
                f'Non-finite model state at iteration {iteration}: {where}.')
        return ' '.join(sentences)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Refuse to write a checkpoint whose weights are NaN or Inf."""
        if not self.enabled:
            return
        state = checkpoint.get('state_dict', {})
        weights = {key: value for key, value in state.items()
                   if isinstance(value, torch.Tensor)
                   and value.is_floating_point()}
        tensors = [value.detach() for value in weights.values()
                   if value.numel()]
        if not tensors or bool(state_is_finite(tensors, tensors[0].device)):
            return
        bad = [key for key, value in weights.items()
               if value.numel() and not norm_is_finite(value)]
        listed = ', '.join(bad[:10]) + (' ...' if len(bad) > 10 else '')
        iteration = checkpoint.get('meta', {}).get('iter', runner.iter + 1)
        raise RuntimeError(
            f'Refusing to save the checkpoint of iteration {iteration}: '
            f'{len(bad)} tensor(s) of the state_dict hold NaN/Inf '
            f'({listed}). Training diverged; lower the learning rate or '
            'clip gradients.')

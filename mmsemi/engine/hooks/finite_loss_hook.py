# Copyright (c) mmsemi contributors. All rights reserved.
"""Stop training on a NaN/Inf loss before a checkpoint can be written."""
import math
from typing import Dict, List, Mapping, Optional, Union

import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.hooks import Hook

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


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Raise a RuntimeError when a loss term of an iteration is NaN or Inf.

    After every training iteration the loss terms of ``outputs`` (the
    ``log_vars`` of ``train_step``: every key containing ``loss``, the total
    ``loss`` included) are stacked and checked with one ``isfinite().all()``,
    i.e. one host-device synchronisation. In distributed training the flag
    is min-reduced over ranks first, so all ranks stop at the same
    iteration. The error names the iteration (1-based, as logged) and every
    non-finite term with its value, e.g. ``unsup.loss_fp=nan``.

    The default priority ('LOW') runs it after the logger and before
    mmengine's ``CheckpointHook`` ('VERY_LOW'), so no checkpoint of that
    iteration is written; ``CheckpointHook`` writes its last checkpoint in
    ``after_train_iter`` too, so nothing is saved after the error.

    A finite loss can still come with non-finite weights (the update of the
    iteration that produced them is checked only at the next iteration), so
    :meth:`before_save_checkpoint` also refuses to write a checkpoint whose
    ``state_dict`` holds a NaN or Inf.

    Args:
        enabled (bool): False turns both checks off
            (``default_hooks.finite_loss.enabled=False``).
        priority (str | int): hook priority. Defaults to 'LOW'.
    """

    def __init__(self, enabled: bool = True,
                 priority: Union[str, int] = 'LOW') -> None:
        self.enabled = enabled
        self.priority = priority

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[Dict] = None) -> None:
        """Check the loss terms of this iteration."""
        if not self.enabled or not outputs:
            return
        terms = {key: value for key, value in outputs.items()
                 if _is_loss_term(key)
                 and isinstance(value, (torch.Tensor, float, int))}
        if not terms:
            return
        finite = _all_finite(list(terms.values())).to(torch.int32)
        if get_world_size() > 1:
            all_reduce(finite, op='min')
        if bool(finite):
            return
        bad = non_finite_terms(terms)
        where = (', '.join(bad) if bad
                 else 'a loss term on another rank (this rank is finite)')
        raise RuntimeError(
            f'Non-finite loss at iteration {runner.iter + 1}: {where}. '
            'Training stopped before writing a checkpoint of this '
            'iteration. Lower the learning rate (optim_wrapper.optimizer.lr)'
            ', clip gradients (optim_wrapper.clip_grad) or check the inputs '
            'of this batch.')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Refuse to write a checkpoint whose weights are NaN or Inf."""
        if not self.enabled:
            return
        state = checkpoint.get('state_dict', {})
        weights = {key: value for key, value in state.items()
                   if isinstance(value, torch.Tensor)
                   and value.is_floating_point()}
        if not weights or bool(_all_finite(list(weights.values()))):
            return
        bad = [key for key, value in weights.items()
               if not bool(torch.isfinite(value).all())]
        listed = ', '.join(bad[:10]) + (' ...' if len(bad) > 10 else '')
        iteration = checkpoint.get('meta', {}).get('iter', runner.iter + 1)
        raise RuntimeError(
            f'Refusing to save the checkpoint of iteration {iteration}: '
            f'{len(bad)} tensor(s) of the state_dict hold NaN/Inf '
            f'({listed}). Training diverged; lower the learning rate or '
            'clip gradients.')

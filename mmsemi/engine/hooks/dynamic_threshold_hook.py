"""Log CorrMatch's dynamic threshold ``tau`` every iteration."""
from typing import List, Optional, Tuple, Union

import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmseg.registry import HOOKS
from mmsemi.models.utils import DynamicThreshold

DATA_BATCH = Optional[Union[dict, tuple, list]]


@HOOKS.register_module()
class DynamicThresholdHook(Hook):
    """Log the ``tau`` of every :class:`DynamicThreshold` of the model.

    The hook only *reads* ``tau``: the update happens inside the model's
    loss, right before ``tau`` is used in that iteration (CorrMatch's
    order: update from the weak logits, then threshold), so the value
    logged after iteration ``i`` is the one used in iteration ``i``.

    After every training iteration ``tau`` goes to the message hub as
    ``'train/tau'`` (with several modules: ``'train/tau/<module name>'``
    each). :meth:`before_train` raises a ValueError when the (unwrapped)
    model holds no :class:`DynamicThreshold`, which almost always means the
    hook was added to the config of a method that has no dynamic threshold.

    Args:
        priority (str | int): Hook priority. Defaults to 'NORMAL'.
    """

    def __init__(self, priority: Union[str, int] = 'NORMAL') -> None:
        self.priority = priority

    @staticmethod
    def find_thresholds(model: nn.Module) -> List[Tuple[str, nn.Module]]:
        """``(name, module)`` of every DynamicThreshold in ``model``."""
        if is_model_wrapper(model):
            model = model.module
        return [(name, module) for name, module in model.named_modules()
                if isinstance(module, DynamicThreshold)]

    def _thresholds(self, runner) -> List[Tuple[str, nn.Module]]:
        found = self.find_thresholds(runner.model)
        if not found:
            model = runner.model
            if is_model_wrapper(model):
                model = model.module
            raise ValueError(
                'DynamicThresholdHook: the model '
                f'({type(model).__name__}) has no DynamicThreshold module '
                'to log; remove the hook or use a method with a dynamic '
                'threshold (e.g. CorrMatch)')
        return found

    def before_train(self, runner) -> None:
        """Check that the model has a dynamic threshold."""
        self._thresholds(runner)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        """Log ``tau`` to the message hub."""
        found = self._thresholds(runner)
        if len(found) == 1:
            runner.message_hub.update_scalar('train/tau',
                                             float(found[0][1].tau))
            return
        for name, module in found:
            runner.message_hub.update_scalar(f'train/tau/{name}',
                                             float(module.tau))

from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from mmseg.registry import HOOKS
from mmsemi.engine.hooks import DynamicThresholdHook
from mmsemi.models.utils import DynamicThreshold


class WithThreshold(nn.Module):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)
        self.thresh = DynamicThreshold(init=0.85, momentum=0.5)


def _runner(model, name):
    return SimpleNamespace(model=model, iter=0,
                           message_hub=MessageHub.get_instance(name))


def test_registered_with_normal_priority():
    hook = HOOKS.build(dict(type='DynamicThresholdHook'))
    assert isinstance(hook, DynamicThresholdHook)
    assert hook.priority == 'NORMAL'


def test_logs_tau_every_iteration():
    model = WithThreshold()
    runner = _runner(model, 'test_dynamic_threshold_hook_log')
    hook = DynamicThresholdHook()
    hook.before_train(runner)
    hook.after_train_iter(runner, batch_idx=0)
    hub = runner.message_hub
    assert hub.get_scalar('train/tau').current() == pytest.approx(0.85)
    # The model updates tau in its loss; the hook only reads it.
    model.thresh.tau.fill_(0.5)
    hook.after_train_iter(runner, batch_idx=1)
    assert hub.get_scalar('train/tau').current() == pytest.approx(0.5)
    assert float(model.thresh.tau) == 0.5


def test_several_thresholds_are_logged_by_name():
    model = nn.Module()
    model.a = WithThreshold()
    model.b = DynamicThreshold(init=0.3)
    runner = _runner(model, 'test_dynamic_threshold_hook_many')
    hook = DynamicThresholdHook()
    hook.before_train(runner)
    hook.after_train_iter(runner, batch_idx=0)
    hub = runner.message_hub
    assert hub.get_scalar('train/tau/a.thresh').current() == pytest.approx(
        0.85)
    assert hub.get_scalar('train/tau/b').current() == pytest.approx(0.3)


def test_model_without_threshold_fails_clearly():
    runner = _runner(nn.Conv2d(1, 1, 1), 'test_dynamic_threshold_hook_none')
    with pytest.raises(ValueError, match='no DynamicThreshold'):
        DynamicThresholdHook().before_train(runner)


def test_unwraps_model_wrappers(monkeypatch):
    """A wrapped model (DDP) is searched through ``.module``."""
    import mmsemi.engine.hooks.dynamic_threshold_hook as mod
    inner = WithThreshold()
    wrapper = SimpleNamespace(module=inner)
    monkeypatch.setattr(mod, 'is_model_wrapper', lambda m: m is wrapper)
    found = DynamicThresholdHook.find_thresholds(wrapper)
    assert [name for name, _ in found] == ['thresh']
    assert found[0][1] is inner.thresh
    assert torch.is_tensor(found[0][1].tau)


class _ToyCorrModel(BaseModel):
    """Updates tau inside its loss (as CorrMatch does) from fixed logits
    with Delta = 0.75, then uses it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1, bias=False)
        self.thresh = DynamicThreshold(init=0.85, momentum=0.5)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        probs = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
        tau = self.thresh.update(probs.log().t()[None, :, None, :])
        return dict(loss=self.conv.weight.sum() * tau)


class _RecordTau(Hook):
    priority = 'LOW'

    def __init__(self):
        self.seen = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.seen.append(runner.message_hub.get_scalar('train/tau').current())


def test_with_mmengine_runner(tmp_path):
    """'train/tau' is the value used in each iteration: .8, .775, .7625."""
    record = _RecordTau()
    runner = Runner(
        model=_ToyCorrModel(),
        work_dir=str(tmp_path),
        train_dataloader=DataLoader([dict(inputs=torch.zeros(1))] * 4,
                                    batch_size=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=3),
        default_hooks=dict(checkpoint=None),
        custom_hooks=[dict(type='DynamicThresholdHook'), record],
        # mmseg scope (as in every mmsemi config): builds the hook from its
        # registry name and leaves later tests in the session's scope.
        default_scope='mmseg',
        experiment_name='test_dynamic_threshold_hook_loop')
    runner.train()
    assert record.seen == pytest.approx([0.8, 0.775, 0.7625])

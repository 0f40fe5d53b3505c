# Copyright (c) mmsemi contributors. All rights reserved.
"""FiniteLossHook: a NaN/Inf loss term or model state (weights, teacher,
method buffers) stops training with the iteration and the term or tensor
named, and no checkpoint with NaN/Inf weights is written."""
import math
import os
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import DataLoader

from mmsemi.engine.hooks import FiniteLossHook
from mmsemi.engine.hooks.finite_loss_hook import state_is_finite


def _outputs(**values):
    return {key.replace('__', '.'): torch.tensor(value)
            for key, value in values.items()}


class _SemiLike(nn.Module):
    """The shape of a method's state: student and teacher weights, a method
    buffer (float prototypes), an integer counter and an fp16 queue."""

    def __init__(self):
        super().__init__()
        self.student = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
        self.teacher = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
        self.contrast_loss = nn.Module()
        self.contrast_loss.register_buffer('prototypes', torch.zeros(3, 4))
        self.register_buffer('cur_iter', torch.zeros((), dtype=torch.long))
        self.register_buffer('queue', torch.zeros(5, 4, dtype=torch.half))


def _runner(iteration=0, model=None):
    return SimpleNamespace(iter=iteration, model=model or _SemiLike())


def test_finite_outputs_pass():
    hook = FiniteLossHook()
    runner = _runner()
    hook.after_train_iter(runner, 0, outputs=_outputs(
        loss=1.0, sup__loss_ce=0.5, unsup__loss_fp=0.5))
    hook.after_train_iter(runner, 0, outputs={})


def test_names_iteration_and_every_non_finite_term():
    hook = FiniteLossHook()
    runner = _runner(28)  # the 29th iteration, as logged
    outputs = _outputs(loss=math.inf, sup__loss_ce=0.7,
                       unsup__loss_fp=math.nan, unsup__loss_s=-math.inf)
    with pytest.raises(RuntimeError) as info:
        hook.after_train_iter(runner, 28, outputs=outputs)
    message = str(info.value)
    assert message.startswith('Non-finite loss at iteration 29: loss=inf, '
                              'unsup.loss_fp=nan, unsup.loss_s=-inf.')
    assert 'sup.loss_ce' not in message


def test_diagnostics_are_not_checked():
    """Keys without 'loss' are not trained on (e.g. a pseudo-label
    accuracy with no confident pixel may be NaN)."""
    FiniteLossHook().after_train_iter(
        _runner(), 0,
        outputs=_outputs(loss=0.3, unsup__pl_acc=math.nan))


def test_disabled_hook_lets_nan_through():
    model = _SemiLike()
    model.contrast_loss.prototypes.fill_(math.nan)
    FiniteLossHook(enabled=False).after_train_iter(
        _runner(model=model), 0, outputs=_outputs(loss=math.nan))


def test_refuses_checkpoint_with_non_finite_weights():
    hook = FiniteLossHook()
    good = {'a.weight': torch.ones(3), 'n': torch.tensor(3)}
    hook.before_save_checkpoint(SimpleNamespace(iter=4),
                                dict(meta=dict(iter=5), state_dict=good))
    bad = dict(good, **{'b.bias': torch.tensor([0., math.nan])})
    with pytest.raises(RuntimeError, match=r'checkpoint of iteration 5: 1 '
                       r'tensor\(s\) .* \(b\.bias\)'):
        hook.before_save_checkpoint(SimpleNamespace(iter=4),
                                    dict(meta=dict(iter=5), state_dict=bad))


@pytest.mark.parametrize('name,value', [
    ('contrast_loss.prototypes', math.nan),
    ('teacher.0.weight', math.inf),
    ('student.1.running_var', -math.inf),
    ('queue', math.inf),
])
def test_non_finite_state_is_named_although_the_loss_is_finite(name, value):
    model = _SemiLike()
    dict(model.named_parameters(), **dict(model.named_buffers()))[
        name].data.view(-1)[1] = value
    with pytest.raises(RuntimeError) as info:
        FiniteLossHook().after_train_iter(
            _runner(7, model), 7, outputs=_outputs(loss=0.5))
    assert str(info.value).startswith(
        f'Non-finite model state at iteration 8: {name}. Training stopped')


def test_loss_and_state_are_both_named_and_groups_are_cut():
    """A diverged student (every tensor) does not hide a method buffer."""
    model = _SemiLike()
    for tensor in model.student.state_dict().values():
        if tensor.is_floating_point():
            tensor.fill_(math.nan)
    model.contrast_loss.prototypes[0, 0] = math.inf
    with pytest.raises(RuntimeError) as info:
        FiniteLossHook().after_train_iter(
            _runner(2, model), 2,
            outputs=_outputs(loss=math.nan, sup__loss_ce=math.nan))
    message = str(info.value)
    assert message.startswith(
        'Non-finite loss at iteration 3: loss=nan, sup.loss_ce=nan. '
        'Non-finite model state at iteration 3: student.0.weight, '
        'student.0.bias, student.1.weight, ... (6 tensors of student); '
        'contrast_loss.prototypes. Training stopped')
    assert 'teacher' not in message


def test_state_check_can_be_switched_off():
    model = _SemiLike()
    model.contrast_loss.prototypes.fill_(math.nan)
    FiniteLossHook(check_model_state=False).after_train_iter(
        _runner(model=model), 0, outputs=_outputs(loss=0.5))
    with pytest.raises(RuntimeError, match='contrast_loss.prototypes'):
        FiniteLossHook().after_train_iter(_runner(model=model), 0,
                                          outputs={})


def test_state_flag_holds_large_half_precision_queues():
    """Half-precision state is summed in float32: a large fp16 queue of
    large values passes; a NaN or Inf anywhere (any dtype) fails."""
    big = [torch.full((1000, ), 1e15), torch.full((100000, ), 6e4).half(),
           torch.tensor([-65504.], dtype=torch.half)]
    assert bool(state_is_finite(big, torch.device('cpu')))
    for bad in (torch.tensor([1., math.nan]),
                torch.tensor([0., -math.inf], dtype=torch.half)):
        assert not bool(state_is_finite(big + [bad], torch.device('cpu')))


class _DivergingModel(BaseModel):
    """loss = w * x with x = 1, 1, inf: finite for two iterations, then
    inf (and NaN weights after the third update)."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return {'decode.loss_ce': (self.w * inputs).sum(),
                'decode.acc_seg': torch.tensor(50.)}


def test_runner_stops_before_checkpointing_the_bad_iteration(tmp_path):
    inputs = [dict(inputs=torch.tensor(x)) for x in (1., 1., math.inf)]
    runner = Runner(
        model=_DivergingModel(),
        work_dir=str(tmp_path),
        train_dataloader=DataLoader(inputs, batch_size=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=3),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1,
                            by_epoch=False),
            finite_loss=dict(type='FiniteLossHook')),
        default_scope='mmseg',
        experiment_name='test_finite_loss_hook_runner')
    names = [type(hook).__name__ for hook in runner.hooks]
    assert names.index('FiniteLossHook') < names.index('CheckpointHook')
    with pytest.raises(RuntimeError,
                       match=r'iteration 3: loss=inf, decode\.loss_ce=inf'):
        runner.train()
    saved = sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth'))
    assert saved == ['iter_1.pth', 'iter_2.pth']
    for name in saved:
        state = torch.load(osp.join(tmp_path, name), map_location='cpu',
                           weights_only=False)['state_dict']
        assert all(torch.isfinite(v).all() for v in state.values())


class _DivergingStateModel(BaseModel):
    """A finite loss while a method buffer accumulates x = 1, 1, inf inside
    the forward pass (as CSS prototypes do in a diverging run)."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))
        self.register_buffer('running_sum', torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        self.running_sum += inputs
        return {'decode.loss_ce': (self.w * 2.0).sum()}


def test_runner_stops_when_method_state_goes_non_finite(tmp_path):
    inputs = [dict(inputs=torch.tensor(x)) for x in (1., 1., math.inf, 1.)]
    runner = Runner(
        model=_DivergingStateModel(),
        work_dir=str(tmp_path),
        train_dataloader=DataLoader(inputs, batch_size=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=4),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1,
                            by_epoch=False),
            finite_loss=dict(type='FiniteLossHook')),
        default_scope='mmseg',
        experiment_name='test_finite_loss_hook_state')
    with pytest.raises(RuntimeError, match=r'^Non-finite model state at '
                       r'iteration 3: running_sum\. Training stopped'):
        runner.train()
    saved = sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth'))
    assert saved == ['iter_1.pth', 'iter_2.pth']

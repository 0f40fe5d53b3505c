# Copyright (c) mmsemi contributors. All rights reserved.
"""FiniteLossHook: a NaN/Inf loss term stops training with the iteration
and the term named, and no checkpoint with NaN/Inf weights is written."""
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


def _outputs(**values):
    return {key.replace('__', '.'): torch.tensor(value)
            for key, value in values.items()}


def test_finite_outputs_pass():
    hook = FiniteLossHook()
    runner = SimpleNamespace(iter=0)
    hook.after_train_iter(runner, 0, outputs=_outputs(
        loss=1.0, sup__loss_ce=0.5, unsup__loss_fp=0.5))
    hook.after_train_iter(runner, 0, outputs={})


def test_names_iteration_and_every_non_finite_term():
    hook = FiniteLossHook()
    runner = SimpleNamespace(iter=28)  # the 29th iteration, as logged
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
        SimpleNamespace(iter=0), 0,
        outputs=_outputs(loss=0.3, unsup__pl_acc=math.nan))


def test_disabled_hook_lets_nan_through():
    FiniteLossHook(enabled=False).after_train_iter(
        SimpleNamespace(iter=0), 0, outputs=_outputs(loss=math.nan))


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

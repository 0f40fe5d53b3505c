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
from mmsemi.engine.hooks import EMATeacherHook


def _net():
    return nn.Sequential(nn.Conv2d(1, 1, 1), nn.BatchNorm2d(1))


class Pair(nn.Module):

    def __init__(self):
        super().__init__()
        self.student = _net()
        self.teacher = _net()
        self.set(self.teacher, 0.)
        self.set(self.student, 1.)

    @staticmethod
    @torch.no_grad()
    def set(net, value, mean=None, var=None, count=None):
        """Conv weight = value, conv bias = 2 * value, BN weight = 3 * value;
        optional BN running_mean / running_var / num_batches_tracked."""
        net[0].weight.fill_(value)
        net[0].bias.fill_(2 * value)
        net[1].weight.fill_(3 * value)
        net[1].bias.fill_(0.)
        if mean is not None:
            net[1].running_mean.fill_(mean)
        if var is not None:
            net[1].running_var.fill_(var)
        if count is not None:
            net[1].num_batches_tracked.fill_(count)


def _runner(model, it=0):
    hub = MessageHub.get_instance('test_ema_teacher_hook')
    return SimpleNamespace(model=model, iter=it, message_hub=hub)


def _step(hook, runner, it):
    runner.iter = it
    hook.after_train_iter(runner, batch_idx=it)


def _w(net):
    return net[0].weight.item()


def test_ema_values_after_one_and_two_updates():
    model = Pair()
    Pair.set(model.teacher, 0., mean=0., var=1., count=0)
    Pair.set(model.student, 1., mean=4., var=5., count=7)
    hook = EMATeacherHook(momentum=0.25)
    runner = _runner(model)

    _step(hook, runner, 0)
    # teacher = 0.75 * teacher + 0.25 * student
    t = model.teacher
    assert _w(t) == pytest.approx(0.25)
    assert t[0].bias.item() == pytest.approx(0.5)
    assert t[1].weight.item() == pytest.approx(0.75)
    assert t[1].running_mean.item() == pytest.approx(1.0)  # 0.25 * 4
    assert t[1].running_var.item() == pytest.approx(2.0)  # .75 + .25 * 5
    assert t[1].num_batches_tracked.item() == 7  # copied, not averaged
    assert t[1].num_batches_tracked.dtype == torch.long
    assert runner.message_hub.get_scalar(
        'train/ema_momentum').current() == 0.25

    Pair.set(model.student, 3., mean=8., var=1., count=9)
    _step(hook, runner, 1)
    assert _w(t) == pytest.approx(0.75 * 0.25 + 0.25 * 3)  # 0.9375
    assert t[1].running_mean.item() == pytest.approx(0.75 * 1 + 0.25 * 8)
    assert t[1].num_batches_tracked.item() == 9
    # The student is never touched.
    assert _w(model.student) == 3.


def test_update_buffers_false_leaves_teacher_buffers():
    model = Pair()
    Pair.set(model.teacher, 0., mean=0., var=1., count=0)
    Pair.set(model.student, 1., mean=4., var=5., count=7)
    hook = EMATeacherHook(momentum=0.5, update_buffers=False)
    _step(hook, _runner(model), 0)
    bn = model.teacher[1]
    assert _w(model.teacher) == pytest.approx(0.5)
    assert bn.running_mean.item() == 0. and bn.running_var.item() == 1.
    assert bn.num_batches_tracked.item() == 0


def test_ramp_up_copies_then_averages():
    hook = EMATeacherHook(momentum=0.01, ramp_up=True)
    momenta = [hook.momentum_at(t) for t in (0, 1, 2, 3)]
    assert momenta == [1., 1 / 2, 1 / 3, 1 / 4]
    assert hook.momentum_at(99) == 0.01 and hook.momentum_at(500) == 0.01

    model = Pair()
    runner = _runner(model)
    _step(hook, runner, 0)  # t = 0: m = 1, exact copy
    assert _w(model.teacher) == 1.
    Pair.set(model.student, 3.)
    _step(hook, runner, 1)  # t = 1: 0.5 / 0.5
    assert _w(model.teacher) == pytest.approx(2.)
    assert runner.message_hub.get_scalar(
        'train/ema_momentum').current() == 0.5
    Pair.set(model.student, 5.)
    _step(hook, runner, 2)  # t = 2: 2/3 * 2 + 1/3 * 5
    assert _w(model.teacher) == pytest.approx(3.)


def test_interval_skips_iterations():
    model = Pair()
    hook = EMATeacherHook(momentum=0.5, interval=3)
    runner = _runner(model)
    _step(hook, runner, 0)
    _step(hook, runner, 1)
    assert _w(model.teacher) == 0.
    _step(hook, runner, 2)  # third iteration: (2 + 1) % 3 == 0
    assert _w(model.teacher) == pytest.approx(0.5)
    _step(hook, runner, 3)
    _step(hook, runner, 4)
    assert _w(model.teacher) == pytest.approx(0.5)
    _step(hook, runner, 5)
    assert _w(model.teacher) == pytest.approx(0.75)


def test_burn_in_copies_exactly_at_begin_iter():
    model = Pair()
    Pair.set(model.student, 1., mean=4., var=5., count=7)
    hook = EMATeacherHook(momentum=0.5, begin_iter=3)
    runner = _runner(model)
    hook.before_train(runner)  # begin_iter > 0: no copy at start
    assert _w(model.teacher) == 0.
    _step(hook, runner, 0)
    _step(hook, runner, 1)
    assert _w(model.teacher) == 0.  # still burning in
    assert model.teacher[1].running_mean.item() == 0.
    _step(hook, runner, 2)  # 3 iterations done == begin_iter: copy
    for t, s in zip(model.teacher.state_dict().values(),
                    model.student.state_dict().values()):
        assert torch.equal(t, s)
    Pair.set(model.student, 3.)
    _step(hook, runner, 3)  # t = 0, no ramp-up: plain EMA
    assert _w(model.teacher) == pytest.approx(2.)


def test_burn_in_with_interval_counts_from_begin_iter():
    model = Pair()
    hook = EMATeacherHook(momentum=0.5, begin_iter=2, interval=2)
    runner = _runner(model)
    _step(hook, runner, 1)  # copy
    assert _w(model.teacher) == 1.
    Pair.set(model.student, 3.)
    _step(hook, runner, 2)  # t = 0: skipped
    assert _w(model.teacher) == 1.
    _step(hook, runner, 3)  # t = 1: update
    assert _w(model.teacher) == pytest.approx(2.)


def test_before_train_copies_only_on_fresh_start():
    model = Pair()
    Pair.set(model.student, 1., mean=4., var=5., count=7)
    hook = EMATeacherHook()
    hook.before_train(_runner(model, it=5))  # resume: keep the teacher
    assert _w(model.teacher) == 0.
    assert model.teacher[1].num_batches_tracked.item() == 0

    hook.before_train(_runner(model, it=0))
    for t, s in zip(model.teacher.state_dict().values(),
                    model.student.state_dict().values()):
        assert torch.equal(t, s)


def test_wrapped_model_is_unwrapped():
    model = Pair()
    wrapped = nn.DataParallel(model)  # a registered mmengine model wrapper
    hook = EMATeacherHook(momentum=0.5)
    _step(hook, _runner(wrapped), 0)
    assert _w(model.teacher) == pytest.approx(0.5)


def test_registry_priority_and_errors():
    hook = HOOKS.build(dict(type='EMATeacherHook', momentum=0.01))
    assert isinstance(hook, EMATeacherHook)
    assert hook.priority == 'ABOVE_NORMAL'
    with pytest.raises(ValueError, match='momentum'):
        EMATeacherHook(momentum=0.)
    with pytest.raises(ValueError, match='interval'):
        EMATeacherHook(interval=0)
    with pytest.raises(ValueError, match='begin_iter'):
        EMATeacherHook(begin_iter=-1)

    no_teacher = nn.Module()
    no_teacher.student = _net()
    no_teacher.teacher = None
    with pytest.raises(ValueError, match='student` and `teacher'):
        hook.before_train(_runner(no_teacher))

    mismatch = Pair()
    mismatch.teacher = nn.Sequential(nn.Conv2d(1, 1, 1))
    with pytest.raises(ValueError, match='teacher and student parameters'):
        hook.before_train(_runner(mismatch))
    shape = Pair()
    shape.teacher = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(1))
    with pytest.raises(ValueError, match="'0.weight' has shape"):
        hook.before_train(_runner(shape))


class _ToyModel(BaseModel):
    """Loss = sum of the student's weight: SGD(lr=0.1) lowers it by 0.1."""

    def __init__(self):
        super().__init__()
        self.student = nn.Conv2d(1, 1, 1, bias=False)
        self.teacher = nn.Conv2d(1, 1, 1, bias=False)
        nn.init.constant_(self.student.weight, 1.)
        nn.init.constant_(self.teacher.weight, 0.)
        self.teacher.requires_grad_(False)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return dict(loss=self.student.weight.sum())


class _RecordIter(Hook):
    """Records runner.iter and the teacher weight seen after each iteration,
    with a priority below EMATeacherHook's."""

    priority = 'LOW'

    def __init__(self):
        self.seen = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.seen.append((batch_idx, runner.iter,
                          runner.model.teacher.weight.item()))


def test_with_mmengine_iter_based_loop(tmp_path):
    """runner.iter inside after_train_iter is the 0-based index of the
    iteration that just finished (mmengine increments afterwards)."""
    record = _RecordIter()
    runner = Runner(
        model=_ToyModel(),
        work_dir=str(tmp_path),
        train_dataloader=DataLoader([dict(inputs=torch.zeros(1))] * 4,
                                    batch_size=1),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=3),
        default_hooks=dict(checkpoint=None),
        custom_hooks=[EMATeacherHook(momentum=0.01, ramp_up=True), record],
        default_scope='mmseg',
        experiment_name='test_ema_teacher_hook_loop')
    runner.train()
    # Student after iterations 0, 1, 2: 0.9, 0.8, 0.7. The ramp-up makes the
    # teacher the running mean: 0.9, (0.9 + 0.8) / 2, (0.9 + 0.8 + 0.7) / 3.
    assert [(b, i) for b, i, _ in record.seen] == [(0, 0), (1, 1), (2, 2)]
    teacher = [w for _, _, w in record.seen]
    assert teacher == pytest.approx([0.9, 0.85, 0.8])
    assert runner.message_hub.get_scalar(
        'train/ema_momentum').current() == pytest.approx(1 / 3)


def test_unimatch_v2_ema_sequence_with_buffers():
    """UniMatch V2's update after 0-based iteration ``t``:
    ``r = min(1 - 1 / (t + 1), 0.996)``, ``teacher = r * teacher +
    (1 - r) * student`` on parameters and floating buffers; the teacher is
    a copy of the student after iteration 0 (spec property 4)."""
    pair = Pair()
    hook = EMATeacherHook(momentum=0.004, ramp_up=True)
    runner = _runner(pair)
    teacher_w, teacher_mean = 0.0, 0.0
    for t in range(300):
        student_w, student_mean = float(t % 7), 0.5 * t
        Pair.set(pair.student, student_w, mean=student_mean)
        _step(hook, runner, t)
        r = min(1 - 1 / (t + 1), 0.996)
        teacher_w = r * teacher_w + (1 - r) * student_w
        teacher_mean = r * teacher_mean + (1 - r) * student_mean
        assert hook.momentum_at(t) == pytest.approx(1 - r, abs=1e-12)
        assert _w(pair.teacher) == pytest.approx(teacher_w, rel=1e-5)
        assert pair.teacher[1].running_mean.item() == pytest.approx(
            teacher_mean, rel=1e-5)
        if t == 0:
            assert _w(pair.teacher) == student_w

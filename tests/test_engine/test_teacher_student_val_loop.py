"""TeacherStudentValLoop: both networks evaluated, metrics prefixed."""
from types import SimpleNamespace

import torch.nn as nn

from mmsemi.engine.runner import TeacherStudentValLoop


class _Model(nn.Module):
    """Predicts 1.0 per image as the teacher, 0.25 as the student."""

    def __init__(self, with_teacher=True):
        super().__init__()
        self.teacher = nn.Identity() if with_teacher else None
        self.semi_test_cfg = dict(predict_on='student')

    def val_step(self, data_batch):
        value = 1.0 if self.semi_test_cfg['predict_on'] == 'teacher' \
            else 0.25
        return [value] * len(data_batch)


class _MeanEvaluator:

    def __init__(self):
        self.seen = []

    def process(self, data_samples, data_batch):
        self.seen.extend(data_samples)

    def evaluate(self, size):
        assert len(self.seen) == size
        value, self.seen = sum(self.seen) / size, []
        return {'mIoU': value}


class _Loader(list):
    dataset = [0, 1, 2, 3]


def _loop(model):
    calls = []
    runner = SimpleNamespace(
        model=model,
        call_hook=lambda name, **kwargs: calls.append((name, kwargs)))
    loop = TeacherStudentValLoop.__new__(TeacherStudentValLoop)
    loop._runner = runner
    loop.dataloader = _Loader([[0, 1], [2, 3]])
    loop.evaluator = _MeanEvaluator()
    loop.fp16 = False
    loop.val_loss = {}
    return loop, calls


def test_teacher_and_student_are_both_evaluated():
    model = _Model()
    loop, calls = _loop(model)
    metrics = loop.run()
    assert metrics == {'teacher/mIoU': 1.0, 'student/mIoU': 0.25}
    # the model's own choice is restored
    assert model.semi_test_cfg['predict_on'] == 'student'
    epoch_end = [kw for name, kw in calls if name == 'after_val_epoch']
    assert epoch_end == [dict(metrics=metrics)]


def test_model_without_teacher_is_evaluated_once_unprefixed():
    loop, _ = _loop(_Model(with_teacher=False))
    assert loop.run() == {'mIoU': 0.25}

# Copyright (c) mmsemi contributors. All rights reserved.
"""tools/misc/extract_teacher.py turns an mmsemi checkpoint into a plain
mmseg checkpoint."""
import importlib.util
import os.path as osp
import subprocess
import sys
from collections import OrderedDict

import pytest
import torch
from torch import nn

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO_ROOT, 'tools', 'misc', 'extract_teacher.py')


def _load_tool():
    spec = importlib.util.spec_from_file_location('extract_teacher', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


extract_teacher = _load_tool()


class TinySegmentor(nn.Module):
    """Stands in for an mmseg segmentor: a conv and a BN (with buffers)."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Conv2d(3, 2, 1)
        self.decode_head = nn.BatchNorm2d(2)


class TinySemi(nn.Module):
    """Stands in for an mmsemi wrapper with a student and an EMA teacher."""

    def __init__(self):
        super().__init__()
        self.student = TinySegmentor()
        self.teacher = TinySegmentor()
        with torch.no_grad():
            for p in self.student.parameters():
                p.fill_(1.0)
            for p in self.teacher.parameters():
                p.fill_(2.0)


@pytest.fixture
def fake_checkpoint():
    return dict(
        meta=dict(
            iter=8,
            cfg='model = dict(type="UniMatch")',
            dataset_meta=dict(classes=('a', 'b'), palette=[[0, 0, 0],
                                                           [9, 9, 9]])),
        state_dict=TinySemi().state_dict(),
        optimizer=dict(state={}, param_groups=[]),
        message_hub=dict(log_scalars={}))


def test_extract_teacher_weights_load_into_plain_segmentor(fake_checkpoint):
    converted = extract_teacher.convert_checkpoint(
        fake_checkpoint, 'teacher', source='x.pth')

    assert set(converted) == {'meta', 'state_dict'}
    assert list(converted['state_dict']) == [
        'backbone.weight', 'backbone.bias', 'decode_head.weight',
        'decode_head.bias', 'decode_head.running_mean',
        'decode_head.running_var', 'decode_head.num_batches_tracked'
    ]
    plain = TinySegmentor()
    plain.load_state_dict(converted['state_dict'], strict=True)
    assert torch.equal(plain.backbone.weight, torch.full((2, 3, 1, 1), 2.0))
    assert converted['meta']['dataset_meta']['classes'] == ('a', 'b')
    assert converted['meta']['iter'] == 8
    assert 'cfg' not in converted['meta']
    assert converted['meta']['mmsemi_extracted'] == dict(
        source='x.pth', which='teacher')


def test_extract_student_and_ddp_prefix(fake_checkpoint):
    ddp_state = OrderedDict(
        (f'module.{k}', v) for k, v in fake_checkpoint['state_dict'].items())
    student = extract_teacher.extract_branch_state_dict(ddp_state, 'student')
    assert torch.equal(student['backbone.bias'], torch.ones(2))
    assert len(student) == 7


def test_bare_state_dict_input(fake_checkpoint):
    converted = extract_teacher.convert_checkpoint(
        fake_checkpoint['state_dict'], 'student')
    assert converted['meta'] == dict(
        mmsemi_extracted=dict(source='', which='student'))
    assert torch.equal(converted['state_dict']['decode_head.weight'],
                       torch.ones(2))


def test_auto_prefers_teacher_then_student(fake_checkpoint):
    with_teacher = extract_teacher.convert_checkpoint(fake_checkpoint, 'auto')
    assert with_teacher['meta']['mmsemi_extracted']['which'] == 'teacher'
    assert torch.equal(with_teacher['state_dict']['backbone.bias'],
                       torch.full((2, ), 2.0))
    student_only = OrderedDict(
        (k, v) for k, v in fake_checkpoint['state_dict'].items()
        if k.startswith('student.'))
    converted = extract_teacher.convert_checkpoint(student_only, 'auto')
    assert converted['meta']['mmsemi_extracted']['which'] == 'student'
    assert torch.equal(converted['state_dict']['backbone.bias'],
                       torch.ones(2))


def test_missing_branch_names_found_prefixes():
    state = OrderedDict(
        [('backbone.w', torch.zeros(1)), ('student.w', torch.zeros(1))])
    with pytest.raises(ValueError, match=r"'teacher\.'.*\['backbone', "
                       r"'student'\]"):
        extract_teacher.extract_branch_state_dict(state, 'teacher')
    with pytest.raises(ValueError, match='teacher.*student'):
        extract_teacher.extract_branch_state_dict(state, 'ema')


def test_cli_output_loads_with_weights_only(tmp_path, fake_checkpoint):
    src, dst = tmp_path / 'semi.pth', tmp_path / 'plain.pth'
    torch.save(fake_checkpoint, src)
    subprocess.run(
        [sys.executable, SCRIPT,
         str(src), str(dst), '--which', 'student'],
        check=True,
        capture_output=True)
    # Stock mmseg loads with torch's weights_only=True default: the output
    # must hold only plain types and tensors.
    plain = torch.load(dst, weights_only=True)
    assert torch.equal(plain['state_dict']['backbone.weight'],
                       torch.ones(2, 3, 1, 1))
    assert plain['meta']['mmsemi_extracted']['which'] == 'student'

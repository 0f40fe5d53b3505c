# Copyright (c) mmsemi contributors. All rights reserved.
"""Comparing an uninterrupted run with a resumed one (resume tests)."""
import os.path as osp
import re

import torch

from mmsemi.utils import load_checkpoint_file


def checkpoint(work_dir: str, iters: int) -> dict:
    """The Runner's checkpoint, loaded as mmsemi loads every checkpoint
    (``weights_only=True`` plus the types mmengine writes)."""
    return load_checkpoint_file(
        osp.join(work_dir, f'iter_{iters}.pth'), map_location='cpu')


def logged(output: str, key: str, iters: int) -> float:
    """The value of ``key`` in the log line of iteration ``iters``."""
    line = [ln for ln in output.splitlines() if f'[{iters}/{iters}]' in ln]
    assert line, f'no log line for iteration {iters}'
    match = re.search(re.escape(key) + r': (\S+)', line[-1])
    assert match, f'{key} not logged'
    return float(match.group(1))


def optimizer_tensors(ckpt: dict) -> dict:
    state = ckpt['optimizer']['state']
    return {(idx, name): value
            for idx, entry in state.items()
            for name, value in entry.items() if torch.is_tensor(value)}


def assert_equal(expected: dict, actual: dict, what: str) -> None:
    assert list(actual) == list(expected), what
    differing = [
        key for key in expected if not torch.equal(expected[key], actual[key])
    ]
    assert differing == [], f'{len(differing)} {what} tensors differ after ' \
        f'resume, e.g. {differing[:5]}'


def assert_teacher_moved(state: dict) -> None:
    """The EMA teacher (with its rep head) differs from the student."""
    teacher = [
        key for key in state
        if key.startswith('teacher.') and state[key].is_floating_point()
    ]
    assert any(key.startswith('teacher.rep_head.') for key in teacher)
    assert any(not torch.equal(state[key], state['student.' + key[8:]])
               for key in teacher)


def straight_and_resumed(train, cwd: str, tmp_path, first: int,
                         total: int):
    """Train ``total`` iterations uninterrupted, and ``first`` + the rest
    with ``--resume``; ``train(work_dir, max_iters, cwd, log_path,
    resume=False)`` runs the tool and returns its output.

    Returns:
        tuple: outputs (straight, resumed) and final checkpoints
        (straight, resumed).
    """
    straight = str(tmp_path / 'straight')
    resumed = str(tmp_path / 'resumed')
    out_straight = train(straight, total, cwd, str(tmp_path / 'straight.log'))
    train(resumed, first, cwd, str(tmp_path / 'first.log'))
    out_resumed = train(resumed, total, cwd, str(tmp_path / 'resumed.log'),
                        resume=True)
    assert f'resumed epoch: 0, iter: {first}' in out_resumed
    return (out_straight, out_resumed, checkpoint(straight, total),
            checkpoint(resumed, total))


def assert_resumed_equals_straight(outputs: tuple, checkpoints: tuple,
                                   logged_keys, iters: int) -> None:
    """The resumed run logs the same ``logged_keys`` at ``iters`` and ends
    with the same weights, buffers and optimizer state, tensor by tensor,
    as the uninterrupted one (``(straight, resumed)`` pairs)."""
    out_straight, out_resumed = outputs
    expected, actual = checkpoints
    for key in logged_keys:
        assert logged(out_resumed, key, iters) == \
            logged(out_straight, key, iters), key
    assert_equal(expected['state_dict'], actual['state_dict'], 'state_dict')
    assert_equal(optimizer_tensors(expected), optimizer_tensors(actual),
                 'optimizer')

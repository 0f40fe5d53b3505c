# Copyright (c) mmsemi contributors. All rights reserved.
"""``--resume`` restores U2PL's whole algorithm state exactly.

The toy U2PL config runs 3 iterations without warm-up (EMA teacher and
contrastive term from the first one) uninterrupted, and 2 + 1 with a
resume. Asserted:

1. the final checkpoints agree tensor by tensor (``torch.equal``): student,
   EMA teacher, the contrastive queues of ``CategoryQueueInfoNCELoss``
   (``queue``, ``queue_ptr``, ``queue_fill``), the iteration buffer
   ``cur_iter`` that drives the drop rate, and the optimizer state;
2. the third iteration logs the same losses and drop rate in both runs;
3. the queues are really filled (unit-norm keys in the filled slots of
   several classes, zeros elsewhere; at least one ring buffer wrapped, so
   ``queue_ptr`` differs from ``queue_fill``) and the contrastive loss is
   non-zero, so the queue contents reach the weights;
4. the teacher differs from the student, so the EMA is exercised.
"""
import os.path as osp

import torch

from ._helpers import REPO_ROOT, train
from ._resume import (assert_resumed_equals_straight, assert_teacher_moved,
                      logged, straight_and_resumed)

CONFIG = osp.join(REPO_ROOT, 'configs', 'toy', 'u2pl_r18s_toyshapes-1_16.py')
N, M = 2, 1
U2PL_OPTIONS = [
    # the interrupted run keeps the uninterrupted run's schedules (the
    # drop rate and the poly decay would otherwise end at each leg's own
    # max_iters)
    f'model.semi_train_cfg.max_iters={N + M}',
    f'param_scheduler.0.end={N + M}',
    'model.semi_train_cfg.sup_only_iters=0',
    'custom_hooks.0.begin_iter=0',
    # anchors from every labeled pixel, so the loss reads the queues even
    # while the fresh teacher is uncertain
    'model.semi_train_cfg.contrast.anchor_threshold=0.0',
    'randomness.seed=0',
    'randomness.deterministic=True',
    'default_hooks.checkpoint.interval=1',
]
QUEUE = 'contrast_loss.'
LOGGED = ('unsup.drop_rate', 'unsup.loss_u', 'unsup.loss_contrast',
          'sup.decode.loss_ce')


def _train(work_dir, max_iters, cwd, log_path, resume=False):
    return train(CONFIG, work_dir, max_iters, cwd, log_path, U2PL_OPTIONS,
                 resume=resume)


def _assert_queues_filled(state):
    queue, fill = state[QUEUE + 'queue'], state[QUEUE + 'queue_fill']
    ptr = state[QUEUE + 'queue_ptr']
    assert int((fill > 0).sum()) >= 2, fill
    # some ring buffer wrapped around: its pointer is state of its own
    assert bool((ptr != fill).any()), (ptr, fill)
    for cls, num in enumerate(fill.tolist()):
        norms = queue[cls].norm(dim=1)
        assert torch.allclose(norms[:num], torch.ones(num), atol=1e-4)
        assert not norms[num:].any()


def test_u2pl_resume_matches_uninterrupted(toy_data_root, tmp_path):
    out_straight, out_resumed, expected, actual = straight_and_resumed(
        _train, toy_data_root, tmp_path, N, N + M)
    state = expected['state_dict']
    assert int(state['cur_iter']) == N + M
    _assert_queues_filled(state)
    assert_teacher_moved(state)
    assert logged(out_straight, 'unsup.loss_contrast', N + M) > 0
    assert_resumed_equals_straight((out_straight, out_resumed),
                                   (expected, actual), LOGGED, N + M)

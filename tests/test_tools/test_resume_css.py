# Copyright (c) mmsemi contributors. All rights reserved.
"""``--resume`` restores CSS's whole algorithm state exactly.

The toy CSS config runs 3 iterations uninterrupted and 2 + 1 with a
resume. Asserted:

1. the final checkpoints agree tensor by tensor (``torch.equal``): student,
   EMA teacher (with its representation head), the class prototypes of
   ``PrototypeContrastLoss`` (``prototypes``, ``prototype_initialized``),
   the iteration buffer ``cur_iter`` that drives lambda_c, and the
   optimizer state;
2. the third iteration logs the same losses in both runs;
3. the prototypes are really used: several classes initialised with
   non-zero rows, the others zero, and a non-zero contrastive loss;
4. the teacher differs from the student, so the EMA is exercised.
"""
import os.path as osp


from ._helpers import REPO_ROOT, train
from ._resume import (assert_resumed_equals_straight, assert_teacher_moved,
                      logged, straight_and_resumed)

CONFIG = osp.join(REPO_ROOT, 'configs', 'toy', 'css_r18s_toyshapes-1_16.py')
N, M = 2, 1
CSS_OPTIONS = [
    # the 40-image toy split: 2 labeled images, one epoch per iteration
    'model.semi_train_cfg.iters_per_epoch=1',
    'randomness.seed=0',
    'randomness.deterministic=True',
    'default_hooks.checkpoint.interval=1',
    # the interrupted run keeps the uninterrupted run's schedule (without
    # an `end`, the poly decay would end at each leg's own max_iters)
    f'param_scheduler.0.end={N + M}',
]
PROTO = 'contrast_loss.'
LOGGED = ('unsup.loss_u', 'unsup.loss_contrast', 'unsup.lambda_c',
          'unsup.agree_ratio', 'sup.decode.loss_ce')


def _train(work_dir, max_iters, cwd, log_path, resume=False):
    return train(CONFIG, work_dir, max_iters, cwd, log_path, CSS_OPTIONS,
                 resume=resume)


def _assert_prototypes_used(state):
    protos = state[PROTO + 'prototypes']
    seen = state[PROTO + 'prototype_initialized']
    assert int(seen.sum()) >= 2, seen
    assert bool((protos[seen].norm(dim=1) > 0).all())
    assert not protos[~seen].any()


def test_css_resume_matches_uninterrupted(toy_data_root, tmp_path):
    out_straight, out_resumed, expected, actual = straight_and_resumed(
        _train, toy_data_root, tmp_path, N, N + M)
    state = expected['state_dict']
    assert int(state['cur_iter']) == N + M
    _assert_prototypes_used(state)
    assert_teacher_moved(state)
    assert logged(out_straight, 'unsup.loss_contrast', N + M) > 0
    assert_resumed_equals_straight((out_straight, out_resumed),
                                   (expected, actual), LOGGED, N + M)

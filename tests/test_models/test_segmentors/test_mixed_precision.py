"""The model side of ``--amp``: one training step of every method's toy
config model under bfloat16 autocast against the same step in float32,
from the same weights, state and random seed.

mmengine's ``AmpOptimWrapper`` asserts a GPU, so the step runs under
``torch.autocast('cpu', dtype=torch.bfloat16)`` here. bfloat16 keeps 8
significant bits (float16, what ``--amp`` uses on GPUs, keeps 11), so this
is the harsher test of the network's half-precision parts; the methods'
own float32 regions are checked exactly in test_precision.py.
"""
import copy
from typing import Dict

import pytest
import torch

from _toy_step import TOY_CONFIGS, fit_student, toy_batch, toy_model

# Tolerance of every loss term: |bf16 - fp32| <= RTOL * |fp32| + ATOL.
# Measured on this step (the student fitted to the batch first, so that the
# official thresholds keep pixels) over six seeds of weights and images:
# the largest relative difference was 4.6 % (CorrMatch's strong-view CE and
# RankMatch's rank terms, which are small differences of nearly equal
# distributions), most terms stayed below 1.5 %. RTOL is about twice the
# worst case measured; ATOL covers terms near zero.
RTOL = 0.10
ATOL = 1e-4
#: Algorithm state that the step updates (kept in float32): averages,
#: compared with the float32 step, and U2PL's queue of L2-normalised keys,
#: whose pushed rows are random picks (not comparable row by row) but must
#: have unit norm to float32 precision (bfloat16 storage is off by ~2e-3).
AVERAGED_STATE = {
    'CorrMatch': ['thresh.tau'],
    'CSS': ['contrast_loss.prototypes'],
}
KEY_QUEUES = {'U2PL': 'contrast_loss.queue'}


def _step(model: torch.nn.Module, inputs, samples, bf16: bool,
          seed: int = 1) -> Dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
        losses = model.loss(inputs, samples)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    return {k: v.detach() for k, v in losses.items() if 'loss' in k}


def _grads(model: torch.nn.Module) -> Dict[str, torch.Tensor]:
    return {n: p.grad for n, p in model.named_parameters()
            if p.grad is not None}


@pytest.mark.parametrize('method', sorted(TOY_CONFIGS))
def test_bf16_autocast_step_matches_float32(method):
    model, cfg = toy_model(method)
    inputs, samples = toy_batch(model, cfg)
    fit_student(model, inputs, samples)
    # A first step fills the queues and prototypes and moves the threshold.
    _step(model, inputs, samples, bf16=False, seed=0)
    model.zero_grad(set_to_none=True)
    before = copy.deepcopy(model.state_dict())
    fp32_model, bf16_model = copy.deepcopy(model), copy.deepcopy(model)

    reference = _step(fp32_model, inputs, samples, bf16=False)
    mixed = _step(bf16_model, inputs, samples, bf16=True)

    assert set(mixed) == set(reference)
    for key, ref in reference.items():
        value = mixed[key]
        assert ref > 0, f'{method} {key} is not active in this step'
        assert value.dtype == torch.float32, (key, value.dtype)
        assert torch.isfinite(value), key
        assert abs(value - ref) <= RTOL * abs(ref) + ATOL, \
            f'{method} {key}: bf16 {float(value):.6g} fp32 {float(ref):.6g}'

    grads, ref_grads = _grads(bf16_model), _grads(fp32_model)
    assert set(grads) == set(ref_grads) and grads
    assert all(torch.isfinite(g).all() for g in grads.values())

    state = bf16_model.state_dict()
    for name, buffer in state.items():
        if buffer.is_floating_point():
            assert buffer.dtype == torch.float32, name
    for name in AVERAGED_STATE.get(method, []):
        assert not torch.equal(state[name], before[name]), \
            f'{name} was not updated by the step'
        torch.testing.assert_close(state[name],
                                   fp32_model.state_dict()[name],
                                   rtol=RTOL, atol=ATOL)
    if method in KEY_QUEUES:
        queue = state[KEY_QUEUES[method]]
        pushed = (queue != before[KEY_QUEUES[method]]).any(dim=-1)
        assert pushed.any()
        norms = queue[pushed].norm(dim=-1)
        torch.testing.assert_close(norms, torch.ones_like(norms),
                                   rtol=0, atol=1e-5)

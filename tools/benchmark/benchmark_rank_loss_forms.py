# Copyright (c) mmsemi contributors. All rights reserved.
"""Compare RankMatch's two rank-loss forms on realistic decoder features.

Usage::

    python tools/benchmark/benchmark_rank_loss_forms.py \
        [--sides 21 33 51] [--agents 64 128] [--noise 0.25 0.5 1.0] \
        [--kinds iid segments] [--channels 256] [--batch 2] [--seeds 3]

``RankAwareKLLoss`` has two forms of the same KL between Plackett-Luce
distributions over the orderings of each pixel's teacher top-4 agents:

- ``official`` (``log_space=False``, the default): the official code's
  probability-space computation, softmax over all ``N`` agents and
  ``eps = 1e-10`` in every PL denominator and in ``log(P_s + eps)``;
- ``log-space`` (``log_space=True``): the PL log-probabilities from the 4
  gathered logits, no ``eps``.

Without ``eps`` the two are the same function (the ``eps=0`` column,
computed in float64, shows it). With it they are not where the softmax
probabilities of a pixel's 2nd-4th agents are not large against ``1e-10``,
which is common on ReLU features: the logits are raw dot products of
256-d non-negative features, so a pixel's top agent often beats the others
by tens of logits.

Features imitate a decoder's ReLU output after BN: pre-activations of unit
scale per channel, then ReLU.

- ``iid``: independent N(0, 1) pre-activations;
- ``segments``: pixels of 21 smooth random regions share a class centre
  (N(0, 1) per channel) plus N(0, 1) pixel noise, standardised per channel
  over the batch (as BN), then ReLU.

The student (strong view) is ``ReLU(pre + noise * N(0, 1))`` of the same
pre-activations. Agents: the orthogonal selection on the teacher (seeded
start), shared by both forms. Sides 21 / 33 / 51 are the output-stride-16
feature maps of the 321 / 513 / 801 crops; 256 channels is the ASPP output.

Reported per setting (mean over seeds, max in brackets), in float32 as in
training:

- ``dL``: ``(L_log - L_official) / L_official``;
- ``dg``: ``||g_log - g_official|| / ||g_official||`` of the gradient on
  the student features;
- ``g norm ratio``: ``||g_log|| / ||g_official||``;
- ``eps=0``: ``|L_official(eps=0, float64) - L_log| / L_log`` (largest
  over seeds; 'underflow' where a student probability underflows to 0
  even in float64, so that without ``eps`` the probability form is
  infinite).
"""
import argparse
import os.path as osp
import statistics
import sys
from typing import Dict

_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if osp.isdir(osp.join(_REPO_ROOT, 'mmsemi')) and _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import Tensor  # noqa: E402

from mmsemi.models.losses.rank_aware_kl_loss import (  # noqa: E402
    RankAwareKLLoss)
from mmsemi.models.utils.orthogonal_agents import (  # noqa: E402
    select_orthogonal_agents)

KINDS = ('iid', 'segments')
NUM_REGIONS = 21


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sides', type=int, nargs='+', default=[21, 33, 51],
                        help='feature map sides (OS16 of crops 321/513/801)')
    parser.add_argument('--agents', type=int, nargs='+', default=[64, 128])
    parser.add_argument('--noise', type=float, nargs='+',
                        default=[0.25, 0.5, 1.0],
                        help='student pre-activation noise (std)')
    parser.add_argument('--kinds', nargs='+', default=list(KINDS),
                        choices=KINDS)
    parser.add_argument('--channels', type=int, default=256)
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--seeds', type=int, default=3)
    return parser.parse_args()


def pre_activations(kind: str, batch: int, channels: int, side: int,
                    gen: torch.Generator) -> Tensor:
    """Unit-scale pre-activations ``(B, C, side, side)`` of ``kind``."""
    if kind == 'iid':
        return torch.randn(batch, channels, side, side, generator=gen)
    if kind != 'segments':
        raise ValueError(f'kind must be one of {KINDS}; got {kind!r}')
    low = max(2, side // 6)
    blobs = torch.randn(batch, NUM_REGIONS, low, low, generator=gen)
    regions = F.interpolate(blobs, size=(side, side), mode='bilinear',
                            align_corners=False).argmax(1)  # (B, s, s)
    centres = torch.randn(NUM_REGIONS, channels, generator=gen)
    pre = centres[regions].permute(0, 3, 1, 2) + torch.randn(
        batch, channels, side, side, generator=gen)
    # as BN: zero mean, unit variance per channel over the batch
    mean = pre.mean(dim=(0, 2, 3), keepdim=True)
    std = pre.std(dim=(0, 2, 3), keepdim=True)
    return (pre - mean) / std


def loss_and_grad(loss: RankAwareKLLoss, feat_t: Tensor, feat_s: Tensor,
                  agents: Tensor):
    """The loss value and its gradient on the student features."""
    student = feat_s.clone().requires_grad_()
    value = loss(feat_t, student, agents)
    grad, = torch.autograd.grad(value, student)
    return value.detach(), grad


def compare_forms(feat_t: Tensor, feat_s: Tensor,
                  agents: Tensor) -> Dict[str, float]:
    """Both forms on one pair of feature maps ``(B, C, h, w)`` with agent
    positions ``(B, N)``; the keys are the columns of the table."""
    num = agents.shape[1]
    official = RankAwareKLLoss(num_agents=num)
    log_space = RankAwareKLLoss(num_agents=num, log_space=True)
    no_eps = RankAwareKLLoss(num_agents=num, eps=0.0)
    l_off, g_off = loss_and_grad(official, feat_t, feat_s, agents)
    l_log, g_log = loss_and_grad(log_space, feat_t, feat_s, agents)
    l_no_eps = no_eps(feat_t.double(), feat_s.double(), agents)
    return dict(
        loss_official=float(l_off),
        loss_log_space=float(l_log),
        dL=float((l_log - l_off) / l_off),
        dg=float((g_log - g_off).norm() / g_off.norm()),
        g_ratio=float(g_log.norm() / g_off.norm()),
        eps0=float((l_no_eps - l_log.double()).abs() / l_log.double()))


def run_setting(kind: str, side: int, num_agents: int, noise: float,
                args) -> Dict[str, list]:
    rows = {}
    for seed in range(args.seeds):
        gen = torch.Generator().manual_seed(seed)
        pre = pre_activations(kind, args.batch, args.channels, side, gen)
        feat_t = pre.relu()
        feat_s = (pre + noise * torch.randn(pre.shape, generator=gen)).relu()
        start = torch.randint(side * side, (args.batch, ), generator=gen)
        agents = select_orthogonal_agents(feat_t, num_agents, start)
        for key, value in compare_forms(feat_t, feat_s, agents).items():
            rows.setdefault(key, []).append(value)
    return rows


def _cell(values, percent=True, signed=False):
    scale = 100.0 if percent else 1.0
    mean = statistics.mean(values) * scale
    worst = max(values, key=abs) * scale
    fmt = '+.1f' if signed else '.1f' if percent else '.2f'
    unit = ' %' if percent else ''
    return f'{mean:{fmt}}{unit} ({worst:{fmt}})'


def _eps0_cell(values):
    worst = max(values)
    # log(P_s) = -inf where even float64 probabilities underflow
    return 'underflow' if worst == float('inf') else f'{worst:.1e}'


def main():
    args = parse_args()
    print(f'B = {args.batch}, C = {args.channels}, top-4, float32, '
          f'{args.seeds} seeds (mean, most extreme in brackets), torch '
          f'{torch.__version__}\n')
    print('| features | h x w | N | noise | L official | L log-space | '
          'dL | dg | g norm ratio | eps=0 |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for kind in args.kinds:
        for side in args.sides:
            for num in args.agents:
                for noise in args.noise:
                    r = run_setting(kind, side, num, noise, args)
                    print(f"| {kind} | {side}x{side} | {num} | {noise} | "
                          f"{statistics.mean(r['loss_official']):.4f} | "
                          f"{statistics.mean(r['loss_log_space']):.4f} | "
                          f"{_cell(r['dL'], signed=True)} | "
                          f"{_cell(r['dg'])} | "
                          f"{_cell(r['g_ratio'], percent=False)} | "
                          f"{_eps0_cell(r['eps0'])} |", flush=True)


if __name__ == '__main__':
    main()

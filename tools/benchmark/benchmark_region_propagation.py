# Copyright (c) mmsemi contributors. All rights reserved.
"""Time CorrMatch region propagation: sequential reference, parallel, tiled.

Usage::

    python tools/benchmark/benchmark_region_propagation.py \
        [--crop 321] [--batch 8] [--shapes 128] [--classes 21] \
        [--tau 0.85] [--repeats 5] [--align-corners true|false] \
        [--devices cpu cuda]

Synthetic but CorrMatch-sized inputs: the stride-8 feature map of crop
``S`` is ``ceil(S / 8)`` wide (41 x 41, n = 1681 at 321; 64 x 64 at 512,
mmseg's stock crop, with ``--align-corners false``). Pseudo-labels and
confidences come from smooth random logits (bilinearly upsampled from the
feature size), the correlation map from random low-dimensional features,
the shapes from :func:`correlation_shapes` of ``--shapes`` sampled rows
(``--corr semantic``, the default, makes the correlation follow the
pseudo-label regions so that many shapes are accepted).
Each implementation is timed from the correlation map to the propagated
labels and mask, the way CorrMatch calls it:

- ``sequential reference``: dense shapes (:func:`correlation_shapes` +
  :func:`restrict_shapes`) and the official per-shape loop
  :func:`propagate_regions_sequential` (a test oracle);
- ``parallel``: dense shapes and :func:`propagate_regions_parallel`,
  histograms from the labels before any write (a test oracle);
- ``tiled``: :func:`propagate_regions_tiled`, the sequential semantics on
  tiles of the feature grid (what CorrMatch trains with).

The two references live with the tests
(``tests/test_models/_region_propagation_oracles.py``), so this tool runs
from a clone of the repository.

The dense shape extraction alone is timed too. Prints a markdown table of
median times (ms), the speed-up of the tiled version over the reference,
the acceptance rate and the fraction of pixels on which each fast version
equals the reference (label and mask).
"""
import argparse
import math
import os.path as osp
import statistics
import sys
import time

_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if osp.isdir(osp.join(_REPO_ROOT, 'mmsemi')) and _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)
sys.path.insert(0, osp.join(_REPO_ROOT, 'tests', 'test_models'))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from _region_propagation_oracles import (  # noqa: E402
    correlation_shapes, propagate_regions_parallel,
    propagate_regions_sequential, restrict_shapes)
from mmsemi.models.utils.region_propagation import (  # noqa: E402
    propagate_regions_tiled, sample_shape_rows)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--crop', type=int, default=321)
    parser.add_argument('--batch', type=int, default=8,
                        help='unlabeled images per GPU batch')
    parser.add_argument('--shapes', type=int, default=128)
    parser.add_argument('--classes', type=int, default=21)
    parser.add_argument('--tau', type=float, default=0.85)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--logit-scale', type=float, default=12.0,
                        help='std of the random feature-resolution logits; '
                        'larger means more confident pseudo-labels')
    parser.add_argument(
        '--corr', choices=['semantic', 'random'], default='semantic',
        help="'semantic': correlation features are the one-hot feature-"
        'resolution pseudo-label plus noise, so shapes follow class regions '
        "(what a trained correlation branch aims at; many shapes pass); "
        "'random': random features (few shapes pass)")
    parser.add_argument(
        '--align-corners', choices=['true', 'false'], default='true',
        help="upsampling of the shapes: 'true' (official, mmsemi's "
        "DeepLabV3+ head) or 'false' (mmseg's stock heads)")
    parser.add_argument('--devices', nargs='+', default=None,
                        help='default: cpu, and cuda when available')
    return parser.parse_args()


def feature_side(crop: int) -> int:
    """Side of the stride-8 feature map of a ``crop`` (three stride-2
    stages with padding: ``ceil(crop / 8)``; ``k + 1`` for ``8k + 1``)."""
    return math.ceil(crop / 8)


def make_inputs(args, device):
    gen = torch.Generator().manual_seed(args.seed)
    side = feature_side(args.crop)
    n = side * side
    num, size = args.batch, args.crop
    low = torch.randn(num, args.classes, side, side,
                      generator=gen) * args.logit_scale
    logits = F.interpolate(low, (size, size), mode='bilinear',
                           align_corners=True)
    conf, labels = logits.softmax(1).max(1)
    valid = torch.ones(num, size, size, dtype=torch.bool)
    valid[:, -size // 10:] = False  # padded bottom rows
    box = torch.zeros(num, size, size, dtype=torch.bool)
    box[:, size // 4:size // 2, size // 4:size // 2] = True
    if args.corr == 'semantic':
        onehot = F.one_hot(low.argmax(1).flatten(1), args.classes)
        feat = onehot.transpose(1, 2).float() * 4 + torch.randn(
            num, args.classes, n, generator=gen)
    else:
        feat = torch.randn(num, 8, n, generator=gen)
    corr = (feat.transpose(1, 2) @ feat / feat.shape[1]**0.5).softmax(-1)
    rows = sample_shape_rows(n, args.shapes, generator=gen)
    mask = (conf >= args.tau) & valid
    to = dict(device=device)
    return (corr.to(**to), rows.to(**to), (side, side), (size, size),
            labels.to(**to), mask.to(**to), box.to(**to), valid.to(**to))


def timed(fn, repeats, device):
    times, out = [], None
    for _ in range(repeats):
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        out = fn()
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), out


def run(args, device):
    corr, rows, feat_size, out_size, labels, mask, box, valid = make_inputs(
        args, device)
    tau = args.tau
    align_corners = args.align_corners == 'true'

    def shapes_fn():
        shapes = correlation_shapes(corr, rows, feat_size, out_size,
                                    align_corners=align_corners)
        return restrict_shapes(shapes, box, valid)

    def ref_fn():
        return propagate_regions_sequential(labels, mask, shapes_fn(), tau)

    def parallel_fn():
        return propagate_regions_parallel(labels, mask, shapes_fn(), tau,
                                          args.classes)

    def tiled_fn():
        return propagate_regions_tiled(labels, mask, corr, rows, feat_size,
                                       tau, args.classes, box=box,
                                       valid=valid, return_accepted=True,
                                       align_corners=align_corners)

    res = dict(device=str(device))
    for name, fn in (('shapes', shapes_fn), ('ref', ref_fn),
                     ('parallel', parallel_fn), ('tiled', tiled_fn)):
        fn()  # warm-up
        res[name], res[name + '_out'] = timed(fn, args.repeats, device)
    ref = res['ref_out']
    for name in ('parallel', 'tiled'):
        out = res[name + '_out']
        res[name + '_agree'] = float(
            ((ref[0] == out[0]) & (ref[1] == out[1])).float().mean())
    res['confident'] = float(mask.float().mean())
    res['accepted'] = float(res['tiled_out'][2].float().mean())
    return res


def main():
    args = parse_args()
    devices = args.devices
    if devices is None:
        devices = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
    side = feature_side(args.crop)
    print(f'crop {args.crop} (feature {side}x{side}, n={side * side}), '
          f'{args.batch} unlabeled images, {args.shapes} shapes, '
          f'K={args.classes}, tau={args.tau}, {args.corr} correlation, '
          f'align_corners={args.align_corners}, '
          f'median of {args.repeats}; '
          f'torch {torch.__version__}, {torch.get_num_threads()} CPU '
          'threads')
    print()
    print('| device | shape extraction (ms) | sequential reference (ms) | '
          'parallel (ms) | tiled (ms) | tiled speed-up | confident pixels | '
          'accepted shapes | parallel = reference | tiled = reference |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for name in devices:
        r = run(args, torch.device(name))
        print(f"| {r['device']} | {r['shapes']:.1f} | {r['ref']:.1f} | "
              f"{r['parallel']:.1f} | {r['tiled']:.1f} | "
              f"{r['ref'] / r['tiled']:.1f}x | {100 * r['confident']:.1f}% | "
              f"{100 * r['accepted']:.1f}% | "
              f"{100 * r['parallel_agree']:.3f}% | "
              f"{100 * r['tiled_agree']:.3f}% |")


if __name__ == '__main__':
    main()

# Copyright (c) mmsemi contributors. All rights reserved.
"""Time CSS's prototype contrastive loss: per-class Python loop vs
vectorised.

Usage::

    python tools/benchmark/benchmark_prototype_contrast.py \
        [--batch 2] [--classes 21] [--size 64] [--dim 256] \
        [--anchors 64] [--negatives 128] [--repeats 3] [--devices cpu cuda]

Official sizes are 8 + 8 images of 128 x 128 embeddings per GPU (512
crop, stride 4), D = 256, 21 classes, 256 anchors per class and 512
negatives per anchor. The defaults scale them to a small CPU: 2 + 2 images
of 64 x 64, 64 anchors, 128 negatives (the loop's saved tensors grow with
classes x anchors x negatives x D).

Timed: one forward + backward (prototype update, sampling, loss) of

- ``vectorised``: :class:`PrototypeContrastLoss` (class-sorted indices,
  ``multinomial`` negatives, chunked gather-dot, nothing ``(Q, M, D)`` kept);
- ``loop``: a straightforward per-class loop written below in the style of
  the official code: boolean-mask copies per class, per-anchor negative
  index lists built in Python, ``[Q, 1 + M, D]`` materialised and compared
  with ``cosine_similarity``.

Memory: ``saved for backward`` is the total size of the distinct tensors
autograd saves during the forward (``saved_tensors_hooks``; exact, device
independent); ``peak extra`` is the CUDA peak allocation above the inputs,
or on CPU the growth of the process' peak RSS (approximate). Each
(implementation, device) pair runs in a fresh process.
"""
import argparse
import os.path as osp
import statistics
import sys
import time

_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if osp.isdir(osp.join(_REPO_ROOT, 'mmsemi')) and _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)
# the shared benchmark helpers next to this script
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from _isolated_runs import (default_devices, memory_baseline,  # noqa: E402
                            memory_peak_above, run_isolated, sync)

from mmsemi.models.losses.prototype_contrast import (  # noqa: E402
    PrototypeContrastLoss)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=2,
                        help='labeled (and unlabeled) images per batch')
    parser.add_argument('--classes', type=int, default=21)
    parser.add_argument('--size', type=int, default=64,
                        help='embedding side (128 = stride 4 of 512)')
    parser.add_argument('--dim', type=int, default=256)
    parser.add_argument('--anchors', type=int, default=64)
    parser.add_argument('--negatives', type=int, default=128)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--devices', nargs='+', default=None,
                        help='default: cpu, and cuda when available')
    parser.add_argument('--impls', nargs='+', default=['loop', 'vectorised'])
    return parser.parse_args()


class LoopPrototypeContrast:
    """Per-class loop reference (official style, same definition)."""

    def __init__(self, num_classes, dim, num_anchors, num_negatives, device,
                 temperature=0.5, tau_ind=0.1, hard=0.8, momentum=0.99):
        self.c, self.q, self.m = num_classes, num_anchors, num_negatives
        self.tau, self.tau_ind, self.hard = temperature, tau_ind, hard
        self.momentum = momentum
        self.prototypes = torch.zeros(num_classes, dim, device=device)

    def __call__(self, rep, labels, valid):
        dim = rep.shape[1]
        flat = rep.permute(0, 2, 3, 1).reshape(-1, dim)
        lab, val = labels.reshape(-1), valid.reshape(-1)
        with torch.no_grad():
            ind = (F.normalize(flat, dim=1) @ F.normalize(
                self.prototypes, dim=1).t() / self.tau_ind).softmax(1)
        present, feats, hard_feats = [], {}, {}
        for c in range(self.c):
            mask = val & (lab == c)
            if mask.sum().item() == 0:
                continue
            present.append(c)
            feats[c] = flat[mask]  # boolean-mask copy
            hard_feats[c] = flat[mask & (ind[:, c] < self.hard)]
            mean = feats[c].detach().mean(0)
            if self.prototypes[c].abs().sum().item() == 0:
                self.prototypes[c] = mean
            else:
                self.prototypes[c] = self.momentum * self.prototypes[c] + \
                    (1 - self.momentum) * mean
        if len(present) <= 1:
            return 0.0 * rep.sum()
        protos = F.normalize(self.prototypes, dim=1)
        total = 0.0
        for c in present:
            if hard_feats[c].shape[0] == 0:
                continue
            idx = torch.randint(hard_feats[c].shape[0], (self.q, ))
            anchor = hard_feats[c][idx.to(rep.device)]
            others = [j for j in present if j != c]
            prob = (protos[c] @ protos[others].t() / self.tau).softmax(0)
            prob = prob.cpu().numpy().astype(np.float64)
            prob /= prob.sum()
            bank = torch.cat([feats[j].detach() for j in others])
            starts = np.cumsum([0] + [feats[j].shape[0] for j in others])
            index = []
            for _ in range(self.q):  # per-anchor Python index lists
                draws = np.random.multinomial(self.m, prob)
                row = []
                for k, num in enumerate(draws):
                    row += list(np.random.randint(starts[k], starts[k + 1],
                                                  size=num))
                index.append(row)
            index = torch.tensor(index, device=rep.device)
            neg = bank[index]  # [Q, M, D]
            pos = protos[c].expand(self.q, 1, dim)
            all_feat = torch.cat([pos, neg], dim=1)  # [Q, 1 + M, D]
            logits = F.cosine_similarity(anchor[:, None], all_feat, dim=2)
            target = torch.zeros(self.q, dtype=torch.long, device=rep.device)
            total = total + F.cross_entropy(logits / self.tau, target)
        return total / len(present)


def make_inputs(args, device):
    g = torch.Generator().manual_seed(args.seed)
    n, side, c = 2 * args.batch, args.size, args.classes
    low = torch.randn(n, c, max(2, side // 8), max(2, side // 8),
                      generator=g) * 6
    labels = F.interpolate(low, size=(side, side), mode='bilinear',
                           align_corners=False).argmax(1)
    valid = torch.rand(labels.shape, generator=g) > 0.2
    centres = torch.randn(c, args.dim, generator=g)
    rep = centres[labels].permute(0, 3, 1, 2) + 2 * torch.randn(
        n, args.dim, side, side, generator=g)
    return rep.to(device), labels.to(device), valid.to(device)


def build(impl, args, device):
    if impl == 'vectorised':
        return PrototypeContrastLoss(
            args.classes, args.dim, num_anchors=args.anchors,
            num_negatives=args.negatives).to(device)
    return LoopPrototypeContrast(args.classes, args.dim, args.anchors,
                                 args.negatives, device)


def _saved_bytes(fn):
    """Run ``fn`` and return its result and the bytes of the distinct
    storages autograd saved for backward."""
    storages = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = \
            t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, sum(storages.values())


def measure(impl, device, args, queue):
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    rep, labels, valid = make_inputs(args, device)
    loss = build(impl, args, device)

    def run_once():
        x = rep.clone().requires_grad_()
        value, saved = _saved_bytes(lambda: loss(x, labels, valid))
        value.backward()
        return value.item(), saved

    base = memory_baseline(device)
    run_once()  # warm-up, prototypes initialised
    times, saved = [], 0
    for _ in range(args.repeats):
        sync(device)
        t0 = time.perf_counter()
        value, saved = run_once()
        sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    peak = memory_peak_above(device, base)
    queue.put(dict(impl=impl, device=device, ms=statistics.median(times),
                   peak_mb=peak / 2**20, saved_mb=saved / 2**20,
                   loss=value))


def main():
    args = parse_args()
    rows = run_isolated(measure, args.impls, default_devices(args.devices),
                        args)
    print(f'\n{args.classes} classes, {args.batch}+{args.batch} images, '
          f'embeddings {args.dim}x{args.size}x{args.size}, {args.anchors} '
          f'anchors/class x {args.negatives} negatives, '
          f'{torch.get_num_threads()} CPU threads, torch '
          f'{torch.__version__}\n')
    print('| device | implementation | median fwd+bwd (ms) | speed-up | '
          'saved for backward (MB) | peak extra memory (MB) | loss |')
    print('|---|---|---|---|---|---|---|')
    for row in rows:
        ref = [r for r in rows
               if r['device'] == row['device'] and r['impl'] == 'loop']
        speed = f"{ref[0]['ms'] / row['ms']:.1f}x" if ref else '-'
        print(f"| {row['device']} | {row['impl']} | {row['ms']:.1f} | "
              f"{speed} | {row['saved_mb']:.1f} | {row['peak_mb']:.0f} | "
              f"{row['loss']:.4f} |")


if __name__ == '__main__':
    main()

# Copyright (c) mmsemi contributors. All rights reserved.
"""Time U2PL's contrastive loss: per-class Python loop vs vectorised.

Usage::

    python tools/benchmark/benchmark_contrastive_loss.py \
        [--scale 1.0] [--batch 2] [--classes 21] [--size 129] \
        [--queue-length 30000] [--push 1024] [--repeats 5] \
        [--devices cpu cuda]

VOC-like sizes by default: 21 classes, 256-d features at stride 4 of a 513
crop (129 x 129), ``--batch`` labeled + ``--batch`` unlabeled images, full
queues of ``--queue-length`` keys per class, 256 anchors per class and 50
negatives per anchor. ``--scale s`` multiplies the feature side and the
queue length by ``s`` (for slow machines).

Timed: one forward + backward of

- ``vectorised``: :class:`CategoryQueueInfoNCELoss` (``(C, P)`` masks,
  ring-buffer queues, batched sampling and InfoNCE);
- ``loop``: a straightforward per-class Python loop written below (boolean
  indexing, ``torch.cat`` + truncation of per-class queues, as the official
  code does, but on the same device and with the same definition).

Both push at most ``--push`` keys per class and step (``0``: all
candidates). Each (implementation, device) pair runs in a fresh process;
the table gives the median time and the peak memory *above* the state
after setup (queues and inputs are part of the state): the ``torch.cuda``
peak allocation on CUDA; on CPU the process' maximum RSS minus its RSS after
setup (approximate: the allocator may keep freed memory).
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

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from _isolated_runs import (default_devices, memory_baseline,  # noqa: E402
                            memory_peak_above, run_isolated, sync)

from mmsemi.models.losses.category_queue_infonce import (  # noqa: E402
    CategoryQueueInfoNCELoss, probability_ranks)
from mmsemi.models.utils.entropy_partition import reliable_mask  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--scale', type=float, default=1.0,
                        help='multiplies --size and --queue-length')
    parser.add_argument('--batch', type=int, default=2,
                        help='labeled (and unlabeled) images per batch')
    parser.add_argument('--classes', type=int, default=21)
    parser.add_argument('--size', type=int, default=129,
                        help='feature side (129 = stride 4 of 513)')
    parser.add_argument('--dim', type=int, default=256)
    parser.add_argument('--queue-length', type=int, default=30000)
    parser.add_argument('--queries', type=int, default=256)
    parser.add_argument('--negatives', type=int, default=50)
    parser.add_argument('--push', type=int, default=1024,
                        help='keys pushed per class and step (0: all)')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--devices', nargs='+', default=None,
                        help='default: cpu, and cuda when available')
    parser.add_argument('--threads', type=int, default=0,
                        help='CPU threads (0: torch default)')
    parser.add_argument('--impls', nargs='+', default=['loop', 'vectorised'])
    return parser.parse_args()


class LoopContrastiveLoss:
    """Per-class Python-loop reference of the same loss definition."""

    def __init__(self, num_classes, dim, queue_length, num_queries,
                 num_negatives, push, device, temperature=0.5, low_rank=3,
                 high_rank=20, anchor_threshold=0.3):
        self.c, self.d, self.length = num_classes, dim, queue_length
        self.m, self.n, self.push = num_queries, num_negatives, push
        self.tau, self.r_l, self.r_h = temperature, low_rank, high_rank
        self.delta = anchor_threshold
        self.queues = [
            torch.zeros(0, dim, device=device) for _ in range(num_classes)
        ]

    def __call__(self, student, teacher, probs, labels, is_labeled, rel,
                 unrel):
        dim = student.shape[1]
        zs = F.normalize(student.permute(0, 2, 3, 1).reshape(-1, dim), dim=1)
        zt = teacher.detach().permute(0, 2, 3, 1).reshape(-1, dim)
        p = probs.permute(0, 2, 3, 1).reshape(-1, self.c)
        y = labels.reshape(-1)
        lab = is_labeled.view(-1, 1, 1).expand_as(labels).reshape(-1)
        valid = y != 255
        rel_all = torch.where(lab, valid, valid & rel.reshape(-1))
        unrel = ~lab & unrel.reshape(-1)
        rank = probability_ranks(p)
        losses = []
        for c in range(self.c):
            is_c = y == c
            anchor_c = is_c & (p[:, c] > self.delta) & rel_all
            r = rank[:, c]
            neg_c = (unrel & (r >= self.r_l) & (r < self.r_h)) | (
                lab & valid & ~is_c & (r < self.r_l))
            keys = F.normalize(zt[neg_c], dim=1)
            if self.push:
                keys = keys[torch.randperm(len(keys),
                                           device=keys.device)[:self.push]]
            self.queues[c] = torch.cat([self.queues[c],
                                        keys])[-self.length:]
            queue = self.queues[c]
            if not bool(anchor_c.any()) or len(queue) == 0:
                continue
            proto = F.normalize(zt[anchor_c].mean(0), dim=0)
            cand = zs[anchor_c]
            a = cand[torch.randint(len(cand), (self.m, ), device=cand.device)]
            negs = queue[torch.randint(
                len(queue), (self.m * self.n, ),
                device=queue.device)].view(self.m, self.n, dim)
            logits = torch.cat([(a * proto).sum(-1, keepdim=True),
                                torch.einsum('md,mnd->mn', a, negs)],
                               dim=1) / self.tau
            target = torch.zeros(self.m, dtype=torch.long, device=a.device)
            losses.append(F.cross_entropy(logits, target))
        if len(losses) < 2:
            return 0 * student.sum()
        return torch.stack(losses).mean()


def make_inputs(args, device):
    g = torch.Generator().manual_seed(args.seed)
    n = 2 * args.batch
    side = max(8, round(args.size * args.scale))
    c, d = args.classes, args.dim
    # smooth, fairly confident teacher predictions (contiguous regions)
    low = torch.randn(n, c, max(2, side // 8), max(2, side // 8),
                      generator=g) * 6
    logits = F.interpolate(low, size=(side, side), mode='bilinear',
                           align_corners=False)
    probs = logits.softmax(dim=1)
    labels = probs.argmax(dim=1)
    is_labeled = torch.tensor([True] * args.batch + [False] * args.batch)
    # labeled "GT": teacher argmax with 10% noise, and a padded border
    noise = torch.rand(labels.shape, generator=g) < 0.1
    rand_lab = torch.randint(0, c, labels.shape, generator=g)
    labels = torch.where(noise & is_labeled.view(-1, 1, 1), rand_lab, labels)
    labels[:, -side // 10:, :] = 255
    valid_u = (labels != 255) & ~is_labeled.view(-1, 1, 1)
    rel = reliable_mask(probs, valid_u, 20.0)
    unrel = valid_u & ~rel
    student = torch.randn(n, d, side, side, generator=g)
    teacher = student + 0.5 * torch.randn(n, d, side, side, generator=g)
    out = dict(student=student, teacher=teacher, probs=probs, labels=labels,
               is_labeled=is_labeled, rel=rel, unrel=unrel)
    return {k: v.to(device) for k, v in out.items()}, side


def build(impl, args, device):
    """The loss with full queues of random unit keys, built in place (no
    transient copies, so that the CPU RSS baseline is the steady state)."""
    length = max(1, round(args.queue_length * args.scale))
    push = args.push or None
    g = torch.Generator(device=device).manual_seed(args.seed + 1)
    if impl == 'vectorised':
        loss = CategoryQueueInfoNCELoss(
            num_classes=args.classes, feat_dim=args.dim, queue_length=length,
            num_queries=args.queries, num_negatives=args.negatives,
            push_per_class=push).to(device)
        for c in range(args.classes):
            loss.queue[c].normal_(generator=g)
            loss.queue[c].div_(loss.queue[c].norm(dim=1, keepdim=True))
        loss.queue_fill.fill_(length)

        def step(x):
            return loss(x['student'], x['teacher'], x['probs'], x['labels'],
                        x['is_labeled'], x['rel'], x['unrel'])
    else:
        loss = LoopContrastiveLoss(args.classes, args.dim, length,
                                   args.queries, args.negatives, args.push,
                                   device)
        for c in range(args.classes):
            q = torch.empty(length, args.dim, device=device).normal_(
                generator=g)
            loss.queues[c] = q.div_(q.norm(dim=1, keepdim=True))

        def step(x):
            return loss(x['student'], x['teacher'], x['probs'], x['labels'],
                        x['is_labeled'], x['rel'], x['unrel'])

    return step, length


def measure(impl, device, args, queue):
    torch.manual_seed(args.seed)
    x, side = make_inputs(args, device)
    step, length = build(impl, args, device)
    if device == 'cpu':
        torch.set_num_threads(args.threads or torch.get_num_threads())

    def run_once():
        student = x['student'].clone().requires_grad_()
        loss = step(dict(x, student=student))
        loss.backward()
        return loss.item()

    base = memory_baseline(device)
    value = run_once()  # warm-up
    times = []
    for _ in range(args.repeats):
        sync(device)
        t0 = time.perf_counter()
        value = run_once()
        sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    peak = memory_peak_above(device, base)
    queue.put(dict(impl=impl, device=device, ms=statistics.median(times),
                   peak_mb=peak / 2**20, loss=value, side=side,
                   length=length))


def main():
    args = parse_args()
    rows = run_isolated(measure, args.impls, default_devices(args.devices),
                        args)
    side, length = rows[0]['side'], rows[0]['length']
    print(f'\n{args.classes} classes, {args.batch}+{args.batch} images, '
          f'features {args.dim}x{side}x{side}, queue {length}/class, '
          f'{args.queries} anchors x {args.negatives} negatives, push '
          f'{args.push or "all"}/class, {torch.get_num_threads()} CPU '
          f'threads, torch {torch.__version__}\n')
    print('| device | implementation | median fwd+bwd (ms) | speed-up | '
          'peak extra memory (MB) | loss |')
    print('|---|---|---|---|---|---|')
    for row in rows:
        ref = [r for r in rows
               if r['device'] == row['device'] and r['impl'] == 'loop']
        speed = f"{ref[0]['ms'] / row['ms']:.1f}x" if ref else '-'
        print(f"| {row['device']} | {row['impl']} | {row['ms']:.1f} | "
              f"{speed} | {row['peak_mb']:.0f} | {row['loss']:.4f} |")


if __name__ == '__main__':
    main()

# Copyright (c) mmsemi contributors. All rights reserved.
"""Pretrain the toy demo's stand-in for ImageNet weights.

The toy backbone (``model.backbone`` of
``configs/_base_/models/deeplabv3plus_r18s-d8_toy.py``) with global average
pooling and a linear classifier learns image-level multi-label
classification of 12 shapes that are not ToyShapes classes
(:mod:`mmsemi.datasets.standin_shapes`: hexagon, pentagon, ellipse, heart,
arrow, crescent, diamond, L, T, trapezoid, semicircle, chevron; 1-3 per
image with ToyShapes' colours, textures, clutter and occlusion). AdamW,
binary cross-entropy, cosine decay; deterministic for a given seed and
thread count.

Writes the backbone weights (fp16 state dict, the keys of the backbone
module) and a manifest beside them: command, seed, steps, data, held-out
accuracy, sha256. The shipped file is ``mmsemi/checkpoints/
standin_r18s_shapes12.pth`` (``mmsemi://standin_r18s_shapes12.pth`` in
configs)::

    python tools/misc/pretrain_standin_backbone.py \\
        --out mmsemi/checkpoints/standin_r18s_shapes12.pth --threads 1
"""
import argparse
import hashlib
import json
import multiprocessing
import os
import os.path as osp
import sys
import time
from functools import partial
from typing import Dict, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from mmengine.config import Config  # noqa: E402

from mmseg.registry import MODELS  # noqa: E402

MODEL_BASE = osp.join(REPO, 'configs', '_base_', 'models',
                      'deeplabv3plus_r18s-d8_toy.py')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='weights file (.pth)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-images', type=int, default=30000)
    parser.add_argument('--num-heldout', type=int, default=2000)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--steps', type=int, default=4000)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--lr', type=float, default=2e-3)
    parser.add_argument('--weight-decay', type=float, default=1e-4)
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads (results depend on it)')
    parser.add_argument('--nproc', type=int, default=2,
                        help='processes rendering the images')
    parser.add_argument('--log-interval', type=int, default=200)
    return parser.parse_args()


def render_set(seed: int, split: str, num: int, size: int,
               nproc: int) -> Tuple[np.ndarray, np.ndarray]:
    """Images (N, H, W, 3) uint8 RGB and targets (N, 12) float32."""
    from mmsemi.datasets.standin_shapes import render_standin_sample
    work = partial(render_standin_sample, seed, split, size=size)
    if nproc > 1:
        with multiprocessing.get_context('fork').Pool(nproc) as pool:
            samples = pool.map(work, range(num), chunksize=64)
    else:
        samples = [work(i) for i in range(num)]
    images, targets = zip(*samples)
    return np.stack(images), np.stack(targets)


class Classifier(nn.Module):
    """The toy backbone, global average pooling of its last stage and a
    linear layer: multi-label logits (N, 12)."""

    def __init__(self, backbone_cfg: dict, num_classes: int) -> None:
        super().__init__()
        self.backbone = MODELS.build(backbone_cfg)
        with torch.no_grad():
            channels = self.backbone(torch.zeros(1, 3, 32, 32))[-1].shape[1]
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.backbone(x)[-1].mean((2, 3)))


def normaliser(preprocessor: dict):
    """uint8 RGB (N, H, W, 3) -> the segmentor's normalised input, so the
    backbone sees what it will see in the demo."""
    mean = torch.tensor(preprocessor['mean']).view(1, 3, 1, 1)
    std = torch.tensor(preprocessor['std']).view(1, 3, 1, 1)

    def normalise(images: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
        return (x - mean) / std

    return normalise


@torch.no_grad()
def evaluate(model: nn.Module, normalise, images: np.ndarray,
             targets: np.ndarray) -> Dict[str, float]:
    """Label accuracy (every class decision) and exact-match accuracy (the
    whole label set right) at threshold 0.5."""
    model.eval()
    preds = []
    for start in range(0, len(images), 256):
        logits = model(normalise(images[start:start + 256]))
        preds.append((logits > 0).numpy())
    model.train()
    pred = np.concatenate(preds)
    truth = targets > 0.5
    return dict(label_accuracy=float((pred == truth).mean()),
                exact_match=float((pred == truth).all(1).mean()))


def train(args: argparse.Namespace, model: nn.Module, normalise,
          images: np.ndarray, targets: np.ndarray) -> float:
    """AdamW with cosine decay; returns the wall-clock seconds."""
    optim = torch.optim.AdamW(model.parameters(), lr=args.lr,
                              weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(optim, args.steps)
    gen = torch.Generator().manual_seed(args.seed)
    order = torch.randperm(len(images), generator=gen)
    pos, start = 0, time.perf_counter()
    for step in range(1, args.steps + 1):
        if pos + args.batch_size > len(order):
            order, pos = torch.randperm(len(images), generator=gen), 0
        idx = order[pos:pos + args.batch_size].numpy()
        pos += args.batch_size
        loss = F.binary_cross_entropy_with_logits(
            model(normalise(images[idx])), torch.from_numpy(targets[idx]))
        optim.zero_grad()
        loss.backward()
        optim.step()
        sched.step()
        if step % args.log_interval == 0 or step == args.steps:
            print(f'step {step}/{args.steps} loss {loss.item():.4f} '
                  f'lr {sched.get_last_lr()[0]:.2e} '
                  f'{time.perf_counter() - start:.0f} s', flush=True)
    return time.perf_counter() - start


def save(args: argparse.Namespace, model: Classifier, metrics: dict,
         seconds: float) -> None:
    """fp16 backbone state dict and its manifest (``.json`` beside it)."""
    from mmsemi.datasets.standin_shapes import STANDIN_CLASSES
    state = {k: v.half() if v.is_floating_point() else v
             for k, v in model.backbone.state_dict().items()}
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    torch.save(state, args.out)
    with open(args.out, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    manifest = dict(
        file=osp.basename(args.out),
        sha256=digest,
        command='python tools/misc/pretrain_standin_backbone.py ' +
        ' '.join(sys.argv[1:]),
        seed=args.seed,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        threads=args.threads,
        num_images=args.num_images,
        image_size=args.size,
        classes=list(STANDIN_CLASSES),
        backbone_config=osp.relpath(MODEL_BASE, REPO),
        heldout=dict(num_images=args.num_heldout, **metrics),
        train_seconds=round(seconds, 1),
        torch=torch.__version__)
    with open(osp.splitext(args.out)[0] + '.json', 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    print(json.dumps(manifest, indent=2))


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    import mmsemi  # noqa: F401  (registers; checks the class sets)
    from mmsemi.datasets.standin_shapes import (
        STANDIN_CLASSES, check_disjoint_from_toy_shapes)
    check_disjoint_from_toy_shapes()
    cfg = Config.fromfile(MODEL_BASE)
    model = Classifier(cfg.model.backbone, len(STANDIN_CLASSES))
    normalise = normaliser(cfg.data_preprocessor)
    start = time.perf_counter()
    images, targets = render_set(args.seed, 'train', args.num_images,
                                 args.size, args.nproc)
    held_images, held_targets = render_set(args.seed, 'heldout',
                                           args.num_heldout, args.size,
                                           args.nproc)
    print(f'rendered {len(images)} + {len(held_images)} images in '
          f'{time.perf_counter() - start:.0f} s', flush=True)
    seconds = train(args, model, normalise, images, targets)
    metrics = evaluate(model, normalise, held_images, held_targets)
    save(args, model, metrics, seconds)


if __name__ == '__main__':
    main()

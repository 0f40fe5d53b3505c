# Copyright (c) mmsemi contributors. All rights reserved.
"""Pretrain the toy demo's stand-ins for ImageNet (or DINOv2) weights.

A toy backbone (``model.backbone`` of ``--model-base``: by default
``configs/_base_/models/deeplabv3plus_r18s-d8_toy.py``, the ResNet;
``configs/_base_/models/vit-t-p8_dpt_toy.py`` for the tiny ViT) learns 12
shapes that are not ToyShapes classes (:mod:`mmsemi.datasets.
standin_shapes`: hexagon, pentagon, ellipse, heart, arrow, crescent,
diamond, L, T, trapezoid, semicircle, chevron; 1-3 per image with
ToyShapes' colours, textures, clutter and occlusion): with
``--target image`` (the ResNet's) global average pooling of its last output
and a linear classifier do image-level multi-label classification (binary
cross-entropy); with ``--target patch`` (the ViT's) a 1x1 conv on its last
output predicts, per cell, the fraction of background and of each class
(soft cross-entropy). AdamW, cosine decay after an optional linear
warm-up; deterministic for a given seed and thread count.

Writes the backbone weights (fp16 state dict, the keys of the backbone
module) and a manifest beside them: command, seed, steps, data, held-out
accuracy, sha256. The shipped files are ``mmsemi/checkpoints/
standin_r18s_shapes12.pth`` and ``standin_vit-t-p8_shapes12.pth``
(``mmsemi://NAME`` in configs); the manifests hold their commands.
"""
import argparse
import hashlib
import json
import math
import multiprocessing
import os
import os.path as osp
import sys
import time
from functools import partial
from typing import Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from mmengine.config import Config  # noqa: E402

from mmseg.registry import MODELS  # noqa: E402

MODEL_BASE = osp.join('configs', '_base_', 'models',
                      'deeplabv3plus_r18s-d8_toy.py')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='weights file (.pth)')
    parser.add_argument('--model-base', default=MODEL_BASE,
                        help='model base whose model.backbone is trained '
                        '(relative to the repository)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-images', type=int, default=30000)
    parser.add_argument('--num-heldout', type=int, default=2000)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--steps', type=int, default=4000)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--lr', type=float, default=2e-3)
    parser.add_argument('--weight-decay', type=float, default=1e-4)
    parser.add_argument('--init', choices=('pytorch', 'config'),
                        default='pytorch',
                        help="start from PyTorch's module defaults or from "
                        "the backbone's own init_weights (its Pretrained "
                        'entry removed; mmpretrain\'s ViT needs it for its '
                        'position embedding)')
    parser.add_argument('--target', choices=('image', 'patch'),
                        default='image',
                        help='image-level multi-label classification, or '
                        'the class fractions of every cell of the '
                        "backbone's last output (soft cross-entropy; a "
                        'ViT learns the task far sooner from it)')
    parser.add_argument('--warmup-steps', type=int, default=0,
                        help='linear warm-up before the cosine decay')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads (results depend on it)')
    parser.add_argument('--nproc', type=int, default=2,
                        help='processes rendering the images')
    parser.add_argument('--log-interval', type=int, default=200)
    return parser.parse_args()


def render_set(seed: int, split: str, num: int, size: int, nproc: int,
               patch: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Images (N, H, W, 3) uint8 RGB and targets: (N, 12) float32, or with
    ``patch`` the class fractions (N, 13, H / patch, W / patch)."""
    from mmsemi.datasets.standin_shapes import (render_standin_patch_sample,
                                                render_standin_sample)
    if patch is None:
        work = partial(render_standin_sample, seed, split, size=size)
    else:
        work = partial(render_standin_patch_sample, seed, split, size=size,
                       patch=patch)
    if nproc > 1:
        with multiprocessing.get_context('fork').Pool(nproc) as pool:
            samples = pool.map(work, range(num), chunksize=64)
    else:
        samples = [work(i) for i in range(num)]
    images, targets = zip(*samples)
    return np.stack(images), np.stack(targets)


class Classifier(nn.Module):
    """The toy backbone and a linear layer on its last output: global
    average pooling and multi-label logits (N, 12), or (``dense``) logits
    of background and the 12 classes per cell (N, 13, h, w)."""

    def __init__(self, backbone_cfg: dict, num_classes: int,
                 init: str = 'pytorch', dense: bool = False) -> None:
        super().__init__()
        backbone_cfg = dict(backbone_cfg, init_cfg=None)
        self.backbone = MODELS.build(backbone_cfg)
        if init == 'config':
            self.backbone.init_weights()
        with torch.no_grad():
            probe = self.backbone(torch.zeros(1, 3, 32, 32))[-1]
        self.dense = dense
        self.fc = nn.Conv2d(probe.shape[1], num_classes + 1, 1) if dense \
            else nn.Linear(probe.shape[1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.backbone(x)[-1]
        return self.fc(features) if self.dense \
            else self.fc(features.mean((2, 3)))

    def loss(self, logits: torch.Tensor,
             targets: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy of the labels, or soft cross-entropy of
        the class fractions of each cell."""
        if self.dense:
            return -(targets * F.log_softmax(logits, 1)).sum(1).mean()
        return F.binary_cross_entropy_with_logits(logits, targets)


def backbone_stride(model_cfg: dict) -> int:
    """Input pixels per cell of the backbone's last output."""
    backbone = MODELS.build(dict(model_cfg['backbone'], init_cfg=None))
    with torch.no_grad():
        return 64 // backbone(torch.zeros(1, 3, 64, 64))[-1].shape[-1]


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
    """Image targets: label accuracy (every class decision) and
    exact-match accuracy (the whole label set right) at threshold 0.5.
    Cell targets: the share of cells whose majority class is predicted,
    over all cells and over the cells whose majority is a shape."""
    model.eval()
    logits = torch.cat([model(normalise(images[start:start + 256]))
                        for start in range(0, len(images), 256)]).numpy()
    model.train()
    if model.dense:
        pred, truth = logits.argmax(1), targets.argmax(1)
        shape = truth > 0
        return dict(cell_accuracy=float((pred == truth).mean()),
                    shape_cell_accuracy=float((pred == truth)[shape].mean()))
    pred, truth = logits > 0, targets > 0.5
    return dict(label_accuracy=float((pred == truth).mean()),
                exact_match=float((pred == truth).all(1).mean()))


def warmup_cosine(step: int, warmup: int, total: int) -> float:
    """lr factor of ``step`` (0-based scheduler count): linear from
    ``1 / warmup`` to 1 over ``warmup`` steps, then cosine to 0 at
    ``total`` (with no warm-up, ``CosineAnnealingLR``'s factors)."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) /
                               max(total - warmup, 1)))


def train(args: argparse.Namespace, model: nn.Module, normalise,
          images: np.ndarray, targets: np.ndarray) -> float:
    """AdamW with cosine decay (after ``--warmup-steps`` of linear
    warm-up); returns the wall-clock seconds."""
    optim = torch.optim.AdamW(model.parameters(), lr=args.lr,
                              weight_decay=args.weight_decay)
    if args.warmup_steps:
        sched = torch.optim.lr_scheduler.LambdaLR(
            optim, partial(warmup_cosine, warmup=args.warmup_steps,
                           total=args.steps))
    else:  # the shipped ResNet stand-in's schedule, bit for bit
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(optim, args.steps)
    gen = torch.Generator().manual_seed(args.seed)
    order = torch.randperm(len(images), generator=gen)
    pos, start = 0, time.perf_counter()
    for step in range(1, args.steps + 1):
        if pos + args.batch_size > len(order):
            order, pos = torch.randperm(len(images), generator=gen), 0
        idx = order[pos:pos + args.batch_size].numpy()
        pos += args.batch_size
        loss = model.loss(model(normalise(images[idx])),
                          torch.from_numpy(targets[idx]))
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
        warmup_steps=args.warmup_steps,
        init=args.init,
        target=args.target,
        threads=args.threads,
        num_images=args.num_images,
        image_size=args.size,
        classes=list(STANDIN_CLASSES),
        backbone_config=args.model_base,
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
    cfg = Config.fromfile(osp.join(REPO, args.model_base))
    dense = args.target == 'patch'
    model = Classifier(cfg.model.backbone, len(STANDIN_CLASSES), args.init,
                       dense)
    patch = backbone_stride(cfg.model) if dense else None
    normalise = normaliser(cfg.data_preprocessor)
    start = time.perf_counter()
    images, targets = render_set(args.seed, 'train', args.num_images,
                                 args.size, args.nproc, patch)
    held_images, held_targets = render_set(args.seed, 'heldout',
                                           args.num_heldout, args.size,
                                           args.nproc, patch)
    print(f'rendered {len(images)} + {len(held_images)} images in '
          f'{time.perf_counter() - start:.0f} s', flush=True)
    seconds = train(args, model, normalise, images, targets)
    metrics = evaluate(model, normalise, held_images, held_targets)
    save(args, model, metrics, seconds)


if __name__ == '__main__':
    main()

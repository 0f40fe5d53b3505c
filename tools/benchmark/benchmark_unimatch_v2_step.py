# Copyright (c) mmsemi contributors. All rights reserved.
"""One training step of UniMatch V2 against UniMatch (V1) on the same
student, and the peak memory of each.

Usage::

    python tools/benchmark/benchmark_unimatch_v2_step.py \\
        [--arch small] [--crop 98] [--batch 2] [--iters 5] [--warmup 1] \\
        [--devices cpu cuda]

Both methods wrap the student of the shipped UniMatch V2 config (DINOv2 of
``--arch`` + UniMatch V2's DPT head, random weights, nothing downloaded)
and train on the same random batch of ``--batch`` labeled + ``--batch``
unlabeled images of ``--crop`` pixels (a multiple of 14) with each method's
shipped ``semi_train_cfg`` and AdamW. A step is ``model.loss``, backward
and the optimizer step (V2's EMA update is a hook, not timed). Each
(method, device) pair runs in its own process, so the peak memory of one
does not hide the other's: CUDA ``max_memory_allocated`` of the step, or on
CPU the growth of the process's peak resident set size during the timed
steps (approximate).

Prints a markdown table: method, device, median and mean step time, peak
memory.
"""
import argparse
import copy
import os.path as osp
import statistics
import sys
import time
from typing import Dict

_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import torch  # noqa: E402

from _isolated_runs import (default_devices, memory_baseline,  # noqa: E402
                            memory_peak_above, run_isolated, sync)

V2_CONFIG = ('configs/unimatch_v2/'
             'unimatch-v2_dinov2-s-dpt_4xb4+4-60e_voc12-classic1464-518x518.py')
METHODS = ('UniMatch', 'UniMatchV2')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arch', default='small',
                        choices=['small', 'base', 'large'])
    parser.add_argument('--crop', type=int, default=98)
    parser.add_argument('--batch', type=int, default=2,
                        help='labeled (and unlabeled) images per step')
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--devices', nargs='+', default=None)
    args = parser.parse_args(argv)
    if args.crop % 14:
        parser.error('--crop must be a multiple of 14 (the ViT patch)')
    return args


def build_model(method: str, arch: str, crop: int) -> torch.nn.Module:
    """``method`` around the V2 config's student (``arch``), offline."""
    from mmengine.config import Config
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    import mmsemi  # noqa: F401
    from mmsemi.models.backbones.dinov2 import dinov2_dpt_changes
    from mmsemi.utils.semi_config import _merged
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(osp.join(_REPO_ROOT, V2_CONFIG))
    segmentor = copy.deepcopy(cfg.model.segmentor.to_dict())
    if arch != 'small':
        segmentor = _merged(segmentor, dinov2_dpt_changes(arch))
    segmentor['backbone']['init_cfg'] = None
    segmentor['data_preprocessor']['size'] = (crop, crop)
    return MODELS.build(dict(type=method, segmentor=segmentor))


def random_batch(model, batch: int, crop: int, seed: int = 0):
    """Preprocessed multi-branch inputs and samples: random images and
    labels, the bottom quarter of the unlabeled images padding."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    gen = torch.Generator().manual_seed(seed)
    classes = model.num_classes
    inputs, samples = {}, {}
    for branch in ('sup', 'unsup_weak', 'unsup_strong1', 'unsup_strong2'):
        inputs[branch] = torch.randn(batch, 3, crop, crop, generator=gen)
        samples[branch] = []
        for _ in range(batch):
            if branch == 'sup':
                label = torch.randint(0, classes, (crop, crop), generator=gen)
            else:
                label = torch.zeros(crop, crop, dtype=torch.long)
                label[-crop // 4:] = 255
            sample = SegDataSample()
            sample.set_metainfo(dict(img_shape=(crop, crop),
                                     ori_shape=(crop, crop)))
            sample.gt_sem_seg = PixelData(data=label[None])
            samples[branch].append(sample)
    return inputs, samples


def measure(method: str, device: str, args, queue) -> None:
    torch.manual_seed(0)
    model = build_model(method, args.arch, args.crop).to(device).train()
    inputs, samples = random_batch(model, args.batch, args.crop)
    inputs = {k: v.to(device) for k, v in inputs.items()}
    samples = {k: [s.to(device) for s in v] for k, v in samples.items()}
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-5)

    def step():
        losses = model.loss(inputs, samples)
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(args.warmup):
        step()
    base = memory_baseline(device)
    times = []
    for _ in range(args.iters):
        sync(device)
        start = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - start)
    queue.put(dict(method=method, device=device,
                   median=statistics.median(times),
                   mean=statistics.mean(times),
                   peak_mib=memory_peak_above(device, base) / 2**20))


def table(rows, args) -> str:
    lines = [
        f'DINOv2-{args.arch[0].upper()} + UniMatch V2 DPT head, '
        f'{args.batch} + {args.batch} images of {args.crop}x{args.crop}, '
        f'{args.iters} timed steps',
        '',
        '| method | device | median step (s) | mean step (s) | '
        'peak memory above start (MiB) |',
        '| --- | --- | --- | --- | --- |',
    ]
    for row in rows:
        lines.append(f"| {row['method']} | {row['device']} | "
                     f"{row['median']:.3f} | {row['mean']:.3f} | "
                     f"{row['peak_mib']:.0f} |")
    return '\n'.join(lines)


def main(argv=None) -> Dict:
    args = parse_args(argv)
    rows = run_isolated(measure, METHODS, default_devices(args.devices),
                        args)
    print(table(rows, args))
    return rows


if __name__ == '__main__':
    main()

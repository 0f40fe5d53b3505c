"""Generate the ToyShapes demo dataset (VOC layout plus split files).

Example::

    python tools/misc/generate_toy_dataset.py --out data/toyshapes --seed 0
"""
import argparse
import os.path as osp
import sys
from typing import Dict, Optional, Sequence

import cv2
import numpy as np

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from mmsemi.datasets.toy_shapes import (  # noqa: E402
    colorize_label,  # noqa: E402
    generate_toy_shapes,
    image_name)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Generate ToyShapes')
    parser.add_argument('--out', default='data/toyshapes')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-train', type=int, default=2000)
    parser.add_argument('--num-val', type=int, default=300)
    parser.add_argument('--size', type=int, default=96, help='image side')
    parser.add_argument(
        '--splits',
        nargs='+',
        default=['1_64', '1_32', '1_16', '1_8', '1_4', '1_2'],
        help='fractional splits of the train images')
    parser.add_argument('--nproc', type=int, default=2)
    parser.add_argument(
        '--preview',
        type=int,
        default=0,
        metavar='N',
        help='also write preview.png: the first N train images above their '
        'colourised labels')
    return parser.parse_args(argv)


def write_preview(out_dir: str, num: int, scale: int = 3) -> str:
    """Mosaic of the first ``num`` train images over their labels."""
    columns = []
    for index in range(num):
        name = image_name('train', index)
        img = cv2.imread(osp.join(out_dir, 'JPEGImages', name + '.png'))
        label = cv2.imread(
            osp.join(out_dir, 'SegmentationClass', name + '.png'),
            cv2.IMREAD_UNCHANGED)
        color = cv2.cvtColor(colorize_label(label), cv2.COLOR_RGB2BGR)
        columns.append(np.concatenate([img, color], axis=0))
    mosaic = np.concatenate(columns, axis=1)
    mosaic = cv2.resize(
        mosaic, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    path = osp.join(out_dir, 'preview.png')
    cv2.imwrite(path, mosaic)
    return path


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, object]:
    args = parse_args(argv)
    summary = generate_toy_shapes(
        args.out,
        num_train=args.num_train,
        num_val=args.num_val,
        size=args.size,
        seed=args.seed,
        splits=args.splits,
        nproc=args.nproc)
    print(f'wrote {args.num_train} train + {args.num_val} val images of '
          f'{args.size}x{args.size} px to {args.out} in '
          f'{summary["seconds"]:.1f} s (nproc={args.nproc})')
    for name, sizes in summary['splits'].items():
        print(f'  splits/{name}: {sizes["num_labeled"]} labeled, '
              f'{sizes["num_unlabeled"]} unlabeled')
    print('  train pixel fraction per class: ' + ', '.join(
        f'{cls} {frac:.3f}'
        for cls, frac in summary['train_class_pixel_fraction'].items()))
    if args.preview > 0:
        print(f'  preview: {write_preview(args.out, args.preview)}')
    return summary


if __name__ == '__main__':
    main()

"""Write mini datasets in the real on-disk layouts (a few images each) with
the split files every shipped config reads.

Train any shipped config on them end to end, as the user-route test does::

    python tools/misc/generate_mini_datasets.py --out /tmp/mini/data
    cd /tmp/mini && python $MMSEMI/tools/train.py \\
        $MMSEMI/configs/unimatch/unimatch_r101-d16_4xb2+2-80e_voc12-classic92-321x321.py \\
        --cfg-options model.segmentor.pretrained=None ...

``--layouts voc_merged`` writes UniMatch's merged VOC layout instead of
mmseg's (``voc_mmseg``); see :mod:`mmsemi.datasets.mini_layouts`.
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from mmsemi.datasets.mini_layouts import (LAYOUTS,  # noqa: E402
                                          write_mini_datasets)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='data',
                        help='folder to hold VOCdevkit, cityscapes, ... and '
                        'splits (default: data)')
    parser.add_argument('--layouts', nargs='+', choices=LAYOUTS,
                        default=['voc_mmseg', 'cityscapes', 'ade20k',
                                 'coco_stuff'])
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    for layout, root in write_mini_datasets(args.out, args.layouts,
                                            args.seed).items():
        print(f'{layout:<11} {root}')


if __name__ == '__main__':
    main()

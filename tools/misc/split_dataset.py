"""Draw seeded labeled/unlabeled splits and write them as mmseg ann files.

Each split goes to ``<out>/<split>/{labeled.txt,unlabeled.txt,manifest.json}``
(one name per line; the manifest holds the seed, the counts and SHA-1s).
Labeled sets are drawn without replacement; for one seed, smaller labeled sets
are subsets of larger ones.

Examples::

    # VOC classic: labeled from the 1464 fine images, unlabeled = rest of aug
    VOC=data/VOCdevkit/VOC2012/ImageSets/Segmentation
    python tools/misc/split_dataset.py --preset voc-classic \\
        --fine-list $VOC/train.txt --aug-list $VOC/trainaug.txt \\
        --out data/splits/pascal
    # VOC blended: 1/16, 1/8, 1/4 of the 10582 aug images
    python tools/misc/split_dataset.py --preset voc-blended \\
        --aug-list $VOC/trainaug.txt --out data/splits/pascal
    # Cityscapes: 1/16, 1/8, 1/4, 1/2 of the 2975 train images
    python tools/misc/split_dataset.py --preset cityscapes \\
        --train-list data/cityscapes/train.txt --out data/splits/cityscapes
    # Anything else
    python tools/misc/split_dataset.py --preset custom --list train.txt \\
        --fraction 1/10 --out data/splits/mine
"""
import argparse
import os.path as osp
import sys
from typing import Dict, List, NamedTuple, Optional, Sequence

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from mmsemi.datasets.splits import (  # noqa: E402
    LABELED_NAME,
    UNLABELED_NAME,  # noqa: E402
    fraction_name,
    make_split,
    num_from_fraction,
    read_names,
    split_text,
    write_split_dir)

VOC_CLASSIC_SIZES = (92, 183, 366, 732, 1464)
VOC_BLENDED_FRACTIONS = ('1/16', '1/8', '1/4')
CITYSCAPES_FRACTIONS = ('1/16', '1/8', '1/4', '1/2')
PRESETS = ('voc-classic', 'voc-blended', 'cityscapes', 'custom')


class PlannedSplit(NamedTuple):
    """One split to write: its directory name, lists and manifest extras."""
    name: str
    labeled: List[str]
    unlabeled: List[str]
    extra: Dict[str, object]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Draw seeded labeled/unlabeled splits (mmseg ann files)')
    parser.add_argument('--preset', required=True, choices=PRESETS)
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--fine-list', help='voc-classic: the 1464 fine train images')
    parser.add_argument(
        '--aug-list',
        help='voc-classic/voc-blended: the 10582 aug train images')
    parser.add_argument(
        '--train-list', help='cityscapes: the 2975 train images')
    parser.add_argument('--list', help='custom: all train images')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--num-labeled', type=int, help='custom: labeled count')
    group.add_argument(
        '--fraction',
        help='custom: labeled fraction, e.g. 1/10 or 0.1 (count = ceil)')
    parser.add_argument(
        '--name',
        help='custom: split directory name (default: 1_10 for '
        '--fraction 1/10, 100 for --num-labeled 100)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace existing split files whose content differs')
    return parser.parse_args(argv)


def _require(args: argparse.Namespace, *keys: str) -> None:
    missing = [k for k in keys if getattr(args, k) is None]
    if missing:
        flags = ', '.join('--' + k.replace('_', '-') for k in missing)
        raise SystemExit(f'--preset {args.preset} needs {flags}')


def classic_splits(fine: Sequence[str], aug: Sequence[str],
                   sizes: Sequence[int], seed: int) -> List[PlannedSplit]:
    """Labeled drawn from ``fine``; unlabeled = ``aug`` minus labeled."""
    aug_set = set(aug)
    missing = [n for n in fine if n not in aug_set]
    if missing:
        raise ValueError(f'{len(missing)} fine-list names are not in the aug '
                         f'list, e.g. {missing[:3]}')
    splits = []
    for size in sizes:
        labeled, _ = make_split(fine, size, seed)
        labeled_set = set(labeled)
        unlabeled = [n for n in aug if n not in labeled_set]
        splits.append(PlannedSplit(str(size), labeled, unlabeled, {}))
    return splits


def fraction_splits(names: Sequence[str], fractions: Sequence[str],
                    seed: int) -> List[PlannedSplit]:
    """Labeled = ``ceil(N * fraction)`` names drawn from ``names``."""
    splits = []
    for fraction in fractions:
        labeled, unlabeled = make_split(
            names, num_from_fraction(len(names), fraction), seed)
        splits.append(
            PlannedSplit(
                fraction_name(fraction), labeled, unlabeled,
                dict(fraction=str(fraction))))
    return splits


def plan_splits(args: argparse.Namespace) -> List[PlannedSplit]:
    """Read the input lists and draw every split of ``args.preset``."""
    if args.preset == 'voc-classic':
        _require(args, 'fine_list', 'aug_list')
        splits = classic_splits(
            read_names(args.fine_list), read_names(args.aug_list),
            VOC_CLASSIC_SIZES, args.seed)
        sources = dict(fine_list=args.fine_list, aug_list=args.aug_list)
    elif args.preset in ('voc-blended', 'cityscapes'):
        key = 'aug_list' if args.preset == 'voc-blended' else 'train_list'
        _require(args, key)
        fractions = (
            VOC_BLENDED_FRACTIONS
            if args.preset == 'voc-blended' else CITYSCAPES_FRACTIONS)
        splits = fraction_splits(
            read_names(getattr(args, key)), fractions, args.seed)
        sources = {key: getattr(args, key)}
    else:
        _require(args, 'list')
        if args.num_labeled is None and args.fraction is None:
            raise SystemExit('--preset custom needs --num-labeled or '
                             '--fraction')
        names = read_names(args.list)
        if args.fraction is not None:
            splits = fraction_splits(names, [args.fraction], args.seed)
        else:
            labeled, unlabeled = make_split(names, args.num_labeled, args.seed)
            splits = [
                PlannedSplit(str(args.num_labeled), labeled, unlabeled, {})
            ]
        if args.name is not None:
            splits = [s._replace(name=args.name) for s in splits]
        sources = dict(list=args.list)
    for split in splits:
        split.extra.update(preset=args.preset, **sources)
    return splits


def _differs(path: str, names: Sequence[str]) -> bool:
    """Whether an existing file ``path`` holds something other than names."""
    if not osp.isfile(path):
        return False
    with open(path, encoding='utf-8') as f:
        return f.read() != split_text(names)


def write_splits(splits: Sequence[PlannedSplit],
                 out: str,
                 seed: int,
                 overwrite: bool = False) -> List[Dict[str, object]]:
    """Write every split below ``out``; return the manifests.

    Raises:
        FileExistsError: if a split file exists with other content and
            ``overwrite`` is False (nothing is written then).
    """
    if not overwrite:
        for split in splits:
            for fname, names in ((LABELED_NAME, split.labeled),
                                 (UNLABELED_NAME, split.unlabeled)):
                path = osp.join(out, split.name, fname)
                if _differs(path, names):
                    raise FileExistsError(
                        f'{path} exists with different content; pass '
                        '--overwrite to replace it')
    return [
        write_split_dir(
            osp.join(out, s.name), s.labeled, s.unlabeled, seed, **s.extra)
        for s in splits
    ]


def main(argv: Optional[Sequence[str]] = None) -> List[Dict[str, object]]:
    args = parse_args(argv)
    splits = plan_splits(args)
    manifests = write_splits(splits, args.out, args.seed, args.overwrite)
    for split, manifest in zip(splits, manifests):
        print(f'{osp.join(args.out, split.name)}: '
              f'{manifest["num_labeled"]} labeled, '
              f'{manifest["num_unlabeled"]} unlabeled '
              f'(seed {args.seed}, sha1 {manifest["labeled_sha1"][:10]})')
    return manifests


if __name__ == '__main__':
    main()

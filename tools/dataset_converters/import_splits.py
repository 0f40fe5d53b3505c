"""Convert UniMatch/CorrMatch and U2PL split files to mmseg ann files.

Accepted line formats (detected per line):

* ``JPEGImages/x.jpg SegmentationClass/x.png`` (UniMatch/CorrMatch VOC)
  -> ``x``;
* ``leftImg8bit/train/<city>/<id>_leftImg8bit.png gtFine/...`` (UniMatch
  Cityscapes) and ``leftImg8bit/train/<city>/<id>_leftImg8bit.png`` (U2PL
  Cityscapes) -> ``<city>/<id>`` (what mmseg's CityscapesDataset expects with
  ``img_suffix='_leftImg8bit.png'``);
* ``x`` (U2PL VOC, already mmseg names) -> ``x``.

``src`` may be one file or a directory; a directory is converted recursively
(every ``*.txt``) into the same layout below ``out``, and each converted
directory holding ``labeled.txt`` and ``unlabeled.txt`` also gets a
``manifest.json`` (seed ``null``, ``source`` = the original directory).

Examples::

    python tools/dataset_converters/import_splits.py \\
        UniMatch/splits/pascal data/splits/pascal
    python tools/dataset_converters/import_splits.py \\
        U2PL/data/splits/cityscapes/744/labeled.txt \\
        data/splits/cityscapes_u2pl/744/labeled.txt
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

from mmsemi.datasets.splits import (  # noqa: E402
    LABELED_NAME,
    MANIFEST_NAME,  # noqa: E402
    UNLABELED_NAME,
    read_names,
    split_manifest,
    write_split_file)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert UniMatch/CorrMatch/U2PL split files to mmseg '
        'ann files (one name without extension per line)')
    parser.add_argument('src', help='split file or directory of split files')
    parser.add_argument('out', help='output file (or directory if src is one)')
    parser.add_argument(
        '--img-suffix',
        help='suffix stripped from image paths (default: _leftImg8bit.png '
        'for Cityscapes paths, else the extension)')
    parser.add_argument(
        '--img-prefix',
        help='directory the names are relative to, e.g. leftImg8bit/train '
        '(default: Cityscapes paths keep <city>/<id>, others the basename)')
    return parser.parse_args(argv)


def convert_file(src: str,
                 dst: str,
                 img_suffix: Optional[str] = None,
                 img_prefix: Optional[str] = None) -> List[str]:
    """Convert one split file; return the names written to ``dst``."""
    names = read_names(src, img_suffix, img_prefix)
    write_split_file(dst, names)
    return names


def _split_files(src_dir: str) -> List[str]:
    """All ``*.txt`` below ``src_dir`` (relative paths, sorted)."""
    found = []
    for root, _, files in os.walk(src_dir):
        for fname in files:
            if fname.endswith('.txt'):
                found.append(osp.relpath(osp.join(root, fname), src_dir))
    return sorted(found)


def convert_dir(src_dir: str,
                out_dir: str,
                img_suffix: Optional[str] = None,
                img_prefix: Optional[str] = None) -> Dict[str, List[str]]:
    """Convert every split file below ``src_dir``; return names per file."""
    rel_paths = _split_files(src_dir)
    if not rel_paths:
        raise FileNotFoundError(f'no *.txt split files below {src_dir!r}')
    converted = {
        rel:
        convert_file(
            osp.join(src_dir, rel), osp.join(out_dir, rel), img_suffix,
            img_prefix)
        for rel in rel_paths
    }
    for rel_dir in sorted({osp.dirname(rel) for rel in rel_paths}):
        pair = _labeled_pair(converted, rel_dir)
        if pair is not None:
            _write_manifest(out_dir, rel_dir, src_dir, *pair)
    return converted


def _labeled_pair(converted: Dict[str, List[str]],
                  rel_dir: str) -> Optional[Tuple[List[str], List[str]]]:
    labeled = converted.get(osp.join(rel_dir, LABELED_NAME))
    unlabeled = converted.get(osp.join(rel_dir, UNLABELED_NAME))
    if labeled is None or unlabeled is None:
        return None
    return labeled, unlabeled


def _write_manifest(out_dir: str, rel_dir: str, src_dir: str,
                    labeled: List[str], unlabeled: List[str]) -> None:
    overlap = set(labeled) & set(unlabeled)
    if overlap:
        print(f'warning: {osp.join(src_dir, rel_dir)}: labeled and unlabeled '
              f'share {len(overlap)} names, e.g. {sorted(overlap)[:3]}')
    manifest = split_manifest(
        labeled,
        unlabeled,
        seed=None,
        source=osp.join(src_dir, rel_dir),
        num_overlap=len(overlap))
    with open(
            osp.join(out_dir, rel_dir, MANIFEST_NAME), 'w',
            encoding='utf-8') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, List[str]]:
    args = parse_args(argv)
    if osp.isdir(args.src):
        converted = convert_dir(args.src, args.out, args.img_suffix,
                                args.img_prefix)
        for rel, names in converted.items():
            print(f'{osp.join(args.out, rel)}: {len(names)} names')
        return converted
    names = convert_file(args.src, args.out, args.img_suffix, args.img_prefix)
    print(f'{args.out}: {len(names)} names')
    return {osp.basename(args.src): names}


if __name__ == '__main__':
    main()

"""Split files: reading the formats in use, writing mmseg ann files, and
drawing seeded labeled/unlabeled splits.

Three line formats exist in the semi-supervised segmentation ecosystem:

* mmseg ann file: ``2007_000032`` or ``aachen/aachen_000000_000019`` (a name
  without extension; the dataset adds ``img_suffix``/``seg_map_suffix``),
* U2PL Cityscapes: ``leftImg8bit/train/aachen/x_leftImg8bit.png`` (one image
  path with extension, no label path),
* UniMatch/CorrMatch: ``JPEGImages/x.jpg SegmentationClass/x.png`` (image and
  label paths, relative to the data root).
"""
import hashlib
import json
import os
import os.path as osp
from fractions import Fraction
from typing import (Any, Dict, Iterable, List, NamedTuple, Optional, Sequence,
                    Tuple, Union)

import numpy as np

# A single field is a path (not an mmseg name) only when it ends with one of
# these; names such as 'frame.001' would otherwise be mistaken for paths.
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp',
                  '.ppm', '.pgm')

CITYSCAPES_IMG_SUFFIX = '_leftImg8bit.png'

MANIFEST_NAME = 'manifest.json'
LABELED_NAME = 'labeled.txt'
UNLABELED_NAME = 'unlabeled.txt'

PathLike = Union[str, 'os.PathLike[str]']


class SplitEntry(NamedTuple):
    """One sample of a split file.

    Attributes:
        img (str): mmseg name (no extension) or image path (with extension).
        ann (str | None): the same name for name entries, the label path for
            pair entries, None for single image paths.
        line (int): 1-based line number in the split file (for errors).
    """
    img: str
    ann: Optional[str]
    line: int


def has_image_extension(field: str) -> bool:
    """Whether ``field`` ends with a known image file extension."""
    return osp.splitext(field)[1].lower() in IMG_EXTENSIONS


def is_name_entry(entry: SplitEntry) -> bool:
    """Whether ``entry`` is an mmseg-style name (resolved via suffixes)."""
    return entry.ann == entry.img and not has_image_extension(entry.img)


def parse_split_line(text: str, path: str, line: int) -> Optional[SplitEntry]:
    """Parse one line of a split file; None for blank and comment lines.

    Raises:
        ValueError: if the line has more than two fields.
    """
    text = text.strip()
    if not text or text.startswith('#'):
        return None
    fields = text.split()
    if len(fields) == 1:
        field = fields[0]
        if has_image_extension(field):
            return SplitEntry(img=field, ann=None, line=line)
        return SplitEntry(img=field, ann=field, line=line)
    if len(fields) == 2:
        return SplitEntry(img=fields[0], ann=fields[1], line=line)
    raise ValueError(
        f'{path}:{line}: expected a name, an image path, or '
        f'"<image path> <label path>", got {len(fields)} fields: {text!r}')


def read_split_file(path: PathLike) -> List[SplitEntry]:
    """Read a split file in any of the supported formats (detected per line).

    Args:
        path: the split file.

    Returns:
        list[SplitEntry]: entries in file order.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: on a malformed line (names file and line).
    """
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'split file {path!r} does not exist')
    entries = []
    with open(path, encoding='utf-8') as f:
        for line_no, text in enumerate(f, start=1):
            entry = parse_split_line(text, path, line_no)
            if entry is not None:
                entries.append(entry)
    return entries


def split_text(names: Iterable[str]) -> str:
    """The exact text ``write_split_file`` writes for ``names``."""
    return ''.join(f'{name}\n' for name in names)


def _check_names(names: Sequence[str], what: str = 'names') -> None:
    """Raise ValueError on empty names, whitespace or duplicates."""
    seen = set()
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name or any(c.isspace()
                                                        for c in name):
            raise ValueError(f'{what}[{i}] = {name!r} is not a non-empty '
                             'string without whitespace')
        if name in seen:
            raise ValueError(f'{what}[{i}] = {name!r} is a duplicate')
        seen.add(name)


def write_split_file(path: PathLike, names: Sequence[str]) -> str:
    """Write ``names`` one per line (mmseg ann-file format).

    Parent directories are created. Returns the path written.

    Raises:
        ValueError: if a name is empty, has whitespace or is duplicated.
    """
    path = os.fspath(path)
    names = list(names)
    _check_names(names)
    parent = osp.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(split_text(names))
    return path


def num_from_fraction(total: int, fraction: Union[str, float,
                                                  Fraction]) -> int:
    """Labeled count ``ceil(total * fraction)``, computed exactly.

    This reproduces the published split sizes, e.g. 1/16 of 10582 -> 662 and
    1/2 of 2975 -> 1488. Strings like ``'1/16'`` or ``'0.1'`` are parsed
    exactly, so ``'0.1'`` of 2970 is 297 (not 298 from float rounding).
    """
    frac = Fraction(fraction) if not isinstance(fraction, float) else \
        Fraction(str(fraction))
    if not 0 < frac <= 1:
        raise ValueError(f'fraction must be in (0, 1], got {fraction!r}')
    return -((-total * frac.numerator) // frac.denominator)


def fraction_name(fraction: Union[str, float, Fraction]) -> str:
    """Directory name of a fractional split: '1/16' -> '1_16'."""
    frac = Fraction(fraction) if not isinstance(fraction, float) else \
        Fraction(str(fraction))
    return f'{frac.numerator}_{frac.denominator}'


def make_split(names: Sequence[str], num_labeled: int,
               seed: int) -> Tuple[List[str], List[str]]:
    """Draw ``num_labeled`` names without replacement.

    The draw is the first ``num_labeled`` indices of
    ``np.random.default_rng(seed).permutation(len(names))``, so for one seed
    and one list a smaller labeled set is a subset of a larger one.

    Args:
        names: all sample names (unique).
        num_labeled: size of the labeled set, ``0 <= num_labeled <= N``.
        seed: seed of the numpy Generator.

    Returns:
        tuple[list[str], list[str]]: (labeled, unlabeled), each in the order
        of ``names``; disjoint, and their union is ``names``.
    """
    names = list(names)
    _check_names(names)
    if not 0 <= num_labeled <= len(names):
        raise ValueError(f'num_labeled must be in [0, {len(names)}], '
                         f'got {num_labeled}')
    order = np.random.default_rng(seed).permutation(len(names))
    chosen = np.zeros(len(names), dtype=bool)
    chosen[order[:num_labeled]] = True
    labeled = [n for n, c in zip(names, chosen) if c]
    unlabeled = [n for n, c in zip(names, chosen) if not c]
    return labeled, unlabeled


def sha1_of_names(names: Iterable[str]) -> str:
    """SHA-1 of the file ``write_split_file`` writes (``sha1sum`` equal)."""
    return hashlib.sha1(split_text(names).encode('utf-8')).hexdigest()


def split_manifest(labeled: Sequence[str], unlabeled: Sequence[str],
                   seed: Optional[int], **extra: Any) -> Dict[str, Any]:
    """Describe a split: seed, counts and SHA-1 of both lists.

    ``extra`` keys (e.g. preset, source list, fraction) are added verbatim.
    """
    manifest = dict(
        seed=seed,
        num_labeled=len(labeled),
        num_unlabeled=len(unlabeled),
        num_total=len(labeled) + len(unlabeled),
        labeled_sha1=sha1_of_names(labeled),
        unlabeled_sha1=sha1_of_names(unlabeled),
        labeled_file=LABELED_NAME,
        unlabeled_file=UNLABELED_NAME,
    )
    manifest.update(extra)
    return manifest


def write_split_dir(out_dir: PathLike, labeled: Sequence[str],
                    unlabeled: Sequence[str], seed: Optional[int],
                    **extra: Any) -> Dict[str, Any]:
    """Write ``labeled.txt``, ``unlabeled.txt`` and ``manifest.json``.

    Returns:
        dict: the manifest written.

    Raises:
        ValueError: if the two lists overlap.
    """
    overlap = set(labeled) & set(unlabeled)
    if overlap:
        raise ValueError(f'labeled and unlabeled lists share {len(overlap)} '
                         f'names, e.g. {sorted(overlap)[:3]}')
    out_dir = os.fspath(out_dir)
    write_split_file(osp.join(out_dir, LABELED_NAME), labeled)
    write_split_file(osp.join(out_dir, UNLABELED_NAME), unlabeled)
    manifest = split_manifest(labeled, unlabeled, seed, **extra)
    with open(osp.join(out_dir, MANIFEST_NAME), 'w', encoding='utf-8') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    return manifest


def entry_to_name(entry: SplitEntry,
                  img_suffix: Optional[str] = None,
                  img_prefix: Optional[str] = None,
                  path: str = '<split>') -> str:
    """Convert a split entry to an mmseg name (what an ann file lists).

    Name entries are returned unchanged. For path entries the image path is
    used (the label path is implied by the dataset's ``seg_map_suffix``):

    * ``img_suffix`` (default: ``'_leftImg8bit.png'`` when the path ends with
      it, otherwise the file extension) is stripped;
    * with ``img_prefix`` (e.g. ``'leftImg8bit/train'``) the name is the path
      relative to it; without it, Cityscapes paths keep ``<city>/<id>`` and
      other paths keep the basename.

    Examples:
        ``JPEGImages/x.jpg SegmentationClass/x.png`` -> ``x``;
        ``leftImg8bit/train/aachen/a_1_2_leftImg8bit.png`` -> ``aachen/a_1_2``.

    Raises:
        ValueError: naming ``path`` and the line when the image path does not
            end with ``img_suffix`` or does not start with ``img_prefix``.
    """
    if is_name_entry(entry):
        return entry.img
    img = entry.img.replace('\\', '/')
    while img.startswith('./'):
        img = img[2:]
    if img_suffix is None:
        img_suffix = (
            CITYSCAPES_IMG_SUFFIX
            if img.endswith(CITYSCAPES_IMG_SUFFIX) else osp.splitext(img)[1])
    if not img.endswith(img_suffix) or len(img) == len(img_suffix):
        raise ValueError(f'{path}:{entry.line}: image path {entry.img!r} does '
                         f'not end with img_suffix {img_suffix!r}')
    stem = img[:len(img) - len(img_suffix)]
    if img_prefix is not None:
        prefix = img_prefix.replace('\\', '/').strip('/') + '/'
        if not stem.startswith(prefix):
            raise ValueError(f'{path}:{entry.line}: image path {entry.img!r} '
                             f'does not start with img_prefix {prefix!r}')
        return stem[len(prefix):]
    keep = 2 if img_suffix == CITYSCAPES_IMG_SUFFIX else 1
    return '/'.join(stem.split('/')[-keep:])


def read_names(path: PathLike,
               img_suffix: Optional[str] = None,
               img_prefix: Optional[str] = None) -> List[str]:
    """Read a split file in any format as a list of mmseg names.

    Path entries are converted with :func:`entry_to_name`.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: naming file and line on a malformed line, a path that
            does not match ``img_suffix``/``img_prefix``, or a duplicate name.
    """
    path = os.fspath(path)
    names: List[str] = []
    first_line: Dict[str, int] = {}
    for entry in read_split_file(path):
        name = entry_to_name(entry, img_suffix, img_prefix, path=path)
        if name in first_line:
            raise ValueError(f'{path}:{entry.line}: {name!r} is a duplicate '
                             f'of line {first_line[name]}')
        first_line[name] = entry.line
        names.append(name)
    return names

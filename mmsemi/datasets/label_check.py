# Copyright (c) mmsemi contributors. All rights reserved.
"""Check every label file of a dataset before training or testing.

A label value outside the classes (or an image/label size mismatch) used to
surface in the middle of training, at the iteration that first drew the
sample, or never for validation labels (mmseg's ``IoUMetric`` drops values
outside the classes silently). :func:`check_dataset_labels` reads every label
the dataset's pipeline would load, once, in a thread pool, and reports each
bad file with the split file and line that lists it.

What is checked, per sample with a ``seg_map_path``:

* the label decodes to a single-channel map (mmseg reads it with
  ``flag='unchanged'`` and squeezes it);
* no value above 255 (mmseg casts labels to uint8, so 256 would become 0);
* after the dataset's ``reduce_zero_label`` and ``label_map`` (applied as
  mmseg's ``LoadAnnotations`` does), every value is in
  ``[0, num_classes)`` or equals ``ignore_index``;
* the label has the (H, W) of its image (read from the image header,
  honouring EXIF orientation as ``LoadImageFromFile`` does).

Labels are checked only for datasets whose pipeline loads them (a
``LoadAnnotations``, or ``LoadUnlabeledAnnotations(with_gt=True)``).
Samples that passed are remembered in a small JSON cache keyed by label and
image path, modification time and size, and by the checked settings, so the
next start only reads new or changed files.
"""
import hashlib
import io
import json
import logging
import os
import os.path as osp
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import LoadAnnotations as MMCVLoadAnnotations
from mmcv.transforms import LoadImageFromFile
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from PIL import Image

from mmseg.datasets.transforms import LoadAnnotations

from .semi_seg_dataset import SemiSegDataset
from .transforms.loading import LoadUnlabeledAnnotations

CACHE_VERSION = 1
#: EXIF orientations that swap width and height (transposed/rotated 90°).
_SWAPPING_ORIENTATIONS = (5, 6, 7, 8)
_EXIF_ORIENTATION_TAG = 0x0112


@dataclass
class LabelProblem:
    """One bad sample: where it is listed and what is wrong with it."""
    seg_map_path: str
    message: str
    source: Optional[str] = None
    line: Optional[int] = None

    def __str__(self) -> str:
        where = ''
        if self.source is not None:
            where = (f'{self.source}:{self.line}: ' if self.line is not None
                     else f'{self.source}: ')
        return f"{where}label '{self.seg_map_path}' {self.message}"


@dataclass
class DatasetLabelReport:
    """Outcome of checking one (leaf) dataset."""
    name: str
    source: Optional[str]
    num_classes: int
    ignore_index: int
    num_checked: int = 0
    num_cached: int = 0
    skipped: Optional[str] = None
    problems: List[LabelProblem] = field(default_factory=list)

    def summary(self) -> str:
        """One line: what was checked and how many problems were found."""
        if self.skipped:
            return f'{self.name}: not checked ({self.skipped})'
        return (f'{self.name}: {self.num_checked} labels checked '
                f'({self.num_cached} unchanged since the last check), '
                f'{len(self.problems)} problem(s); valid values '
                f'0..{self.num_classes - 1} and {self.ignore_index}')


@dataclass(frozen=True)
class _Sample:
    """What a worker needs to check one label."""
    seg_map_path: str
    img_path: Optional[str]
    line: Optional[int]


@dataclass(frozen=True)
class _Settings:
    """How a dataset's pipeline reads its labels and images."""
    num_classes: int
    ignore_index: int
    lut: Tuple[int, ...]
    label_backend: str
    img_flag: str
    img_backend: str
    backend_args: Optional[Tuple[Tuple[str, Any], ...]]

    def cache_tag(self) -> str:
        return repr((CACHE_VERSION, self.num_classes, self.ignore_index,
                     self.lut, self.label_backend, self.img_flag,
                     self.img_backend))


def leaf_datasets(dataset: Any, strict: bool = True) -> List[BaseDataset]:
    """The datasets holding samples inside Concat/Repeat/ClassBalanced (or
    similar) wrappers, in order, each once.

    Args:
        dataset: a ``BaseDataset`` or a wrapper of some.
        strict (bool): raise TypeError on a dataset that is neither (its
            samples cannot be inspected); False leaves it out.
    """
    if isinstance(dataset, BaseDataset):
        return [dataset]
    if hasattr(dataset, 'datasets'):
        children = list(dataset.datasets)
    elif hasattr(dataset, 'dataset'):
        children = [dataset.dataset]
    elif strict:
        raise TypeError(f'cannot check the labels of {type(dataset).__name__}:'
                        ' neither a BaseDataset nor a dataset wrapper')
    else:
        return []
    found: List[BaseDataset] = []
    for child in children:
        for leaf in leaf_datasets(child, strict):
            if all(leaf is not seen for seen in found):
                found.append(leaf)
    return found


def value_lut(reduce_zero_label: bool,
              label_map: Optional[Dict[int, int]]) -> np.ndarray:
    """Where each uint8 file value ends up after mmseg's ``LoadAnnotations``
    applies ``reduce_zero_label`` and ``label_map`` (index = file value)."""
    lut = np.arange(256, dtype=np.int64)
    if reduce_zero_label:
        # 0 -> 255 (ignore), v -> v - 1, and 255 stays ignored.
        lut = np.where(lut == 0, 255, lut - 1)
        lut[lut == 254] = 255
    if label_map:
        mapped = lut.copy()
        for old_id, new_id in label_map.items():
            mapped[lut == old_id] = new_id
        lut = mapped
    return lut


def _find_transform(pipeline: Any, kind: type) -> Optional[Any]:
    """First transform of type ``kind`` in a (possibly nested) pipeline."""
    if isinstance(pipeline, kind):
        return pipeline
    children = getattr(pipeline, 'transforms', None)
    if isinstance(pipeline, (list, tuple)):
        children = pipeline
    for child in children or ():
        found = _find_transform(child, kind)
        if found is not None:
            return found
    return None


def _label_loader(dataset: Any) -> Optional[MMCVLoadAnnotations]:
    """The transform that loads labels, or None if the pipeline loads none
    (unlabeled sets, test sets without labels)."""
    loader = _find_transform(getattr(dataset, 'pipeline', None),
                             MMCVLoadAnnotations)
    if isinstance(loader, LoadUnlabeledAnnotations) and not loader.with_gt:
        return None
    # mmseg's LoadAnnotations always loads the map; mmcv's only with_seg.
    if (loader is not None and not isinstance(loader, LoadAnnotations)
            and not loader.with_seg):
        return None
    return loader


def _freeze(value: Optional[dict]) -> Optional[Tuple[Tuple[str, Any], ...]]:
    return None if value is None else tuple(sorted(value.items()))


def _settings(dataset: Any, loader: MMCVLoadAnnotations, info: dict,
              num_classes: int, ignore_index: int) -> _Settings:
    """Label/image reading settings of ``dataset`` (``info``: a sample)."""
    reduce_zero_label = getattr(loader, 'reduce_zero_label', None)
    if reduce_zero_label is None:
        reduce_zero_label = info.get('reduce_zero_label', False)
    lut = value_lut(bool(reduce_zero_label), info.get('label_map'))
    img_loader = _find_transform(dataset.pipeline, LoadImageFromFile)
    return _Settings(
        num_classes=int(num_classes),
        ignore_index=int(ignore_index),
        lut=tuple(int(v) for v in lut),
        label_backend=loader.imdecode_backend,
        img_flag=getattr(img_loader, 'color_type', 'color'),
        img_backend=getattr(img_loader, 'imdecode_backend', 'cv2'),
        backend_args=_freeze(loader.backend_args))


def label_sources(dataset: Any) -> Tuple[Optional[str], Dict[str, int]]:
    """The file listing the samples and the 1-based line of each label path.

    mmsemi's split files are resolved by the dataset itself; a stock
    dataset's ``ann_file`` maps line ``name`` to
    ``<seg_map_path prefix>/name<seg_map_suffix>``, as
    ``BaseSegDataset.load_data_list`` does. A directory scan has no lines.
    """
    if isinstance(dataset, SemiSegDataset) and dataset.split_file:
        return dataset.split_path(), dataset.label_lines()
    ann_file = getattr(dataset, 'ann_file', '')
    ann_dir = dataset.data_prefix.get('seg_map_path', '')
    if not ann_file or not osp.isfile(ann_file):
        return (ann_dir or None), {}
    lines: Dict[str, int] = {}
    with open(ann_file, encoding='utf-8') as f:
        for number, text in enumerate(f, start=1):
            seg_path = osp.join(ann_dir,
                                text.strip() + dataset.seg_map_suffix)
            lines.setdefault(seg_path, number)
    return ann_file, lines


def _read_bytes(path: str, backend_args: Optional[tuple]) -> bytes:
    return fileio.get(
        path, backend_args=dict(backend_args) if backend_args else None)


def _image_hw(path: str, settings: _Settings) -> Tuple[int, int]:
    """(H, W) of the image as ``LoadImageFromFile`` would decode it, read
    from the header where PIL can (no full decode)."""
    data = _read_bytes(path, settings.backend_args)
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            orientation = img.getexif().get(_EXIF_ORIENTATION_TAG, 1)
    except Exception:  # a format PIL cannot open: decode as the pipeline
        img = mmcv.imfrombytes(data, flag=settings.img_flag,
                               backend=settings.img_backend)
        return tuple(img.shape[:2])
    keeps_orientation = (settings.img_flag == 'unchanged'
                         or 'ignore_orientation' in settings.img_flag)
    if orientation in _SWAPPING_ORIENTATIONS and not keeps_orientation:
        width, height = height, width
    return height, width


def _value_problems(label: np.ndarray, settings: _Settings) -> List[str]:
    """Messages for values that mmseg would wrap or that are no class."""
    if label.dtype == np.uint8:
        present = np.flatnonzero(np.bincount(label.ravel(), minlength=256))
    else:
        present = np.unique(label)
    problems = []
    wrapped = present[(present < 0) | (present > 255)]
    if wrapped.size:
        problems.append(f'has values {wrapped.tolist()} outside 0..255 '
                        '(mmseg reads labels as uint8, so they would wrap)')
    present = present[(present >= 0) & (present <= 255)].astype(np.int64)
    mapped = np.asarray(settings.lut)[present]
    bad = ((mapped < 0) | (mapped >= settings.num_classes)) & (
        mapped != settings.ignore_index)
    if bad.any():
        changed = not np.array_equal(mapped, present)
        after = (f' (after reduce_zero_label/label_map: '
                 f'{mapped[bad].tolist()})' if changed else '')
        problems.append(
            f'has values {present[bad].tolist()}{after} outside '
            f'[0, {settings.num_classes}) and != ignore_index '
            f'{settings.ignore_index}')
    return problems


def check_label_file(sample: _Sample, settings: _Settings) -> List[str]:
    """Problems of one label (empty if fine); never raises."""
    try:
        label = mmcv.imfrombytes(
            _read_bytes(sample.seg_map_path, settings.backend_args),
            flag='unchanged', backend=settings.label_backend)
    except Exception as error:  # report unreadable files like bad values
        return [f'cannot be read ({type(error).__name__}: {error})']
    if label is None:
        return ['cannot be decoded as an image']
    label = label.squeeze()
    if label.ndim != 2:
        return [f'has shape {tuple(label.shape)}; expected a single-channel '
                '(or palette) map of class indices']
    problems = _value_problems(label, settings)
    if sample.img_path is not None:
        try:
            img_hw = _image_hw(sample.img_path, settings)
        except Exception as error:
            return problems + [f"has an unreadable image '{sample.img_path}' "
                               f'({type(error).__name__}: {error})']
        if tuple(img_hw) != tuple(label.shape):
            problems.append(
                f'has (H, W) = {tuple(label.shape)} but its image '
                f"'{sample.img_path}' has {tuple(img_hw)}")
    return problems


def _stat_key(sample: _Sample, settings: _Settings) -> Optional[str]:
    """Cache key of a local sample (None for remote storage)."""
    if settings.backend_args is not None:
        return None
    parts = [settings.cache_tag()]
    for path in (sample.seg_map_path, sample.img_path):
        if path is None:
            parts.append('-')
            continue
        try:
            stat = os.stat(path)
        except OSError:
            return None
        parts.append(f'{osp.abspath(path)}|{stat.st_mtime_ns}|'
                     f'{stat.st_size}')
    return hashlib.sha1('\0'.join(parts).encode('utf-8')).hexdigest()


class _Cache:
    """Keys of samples that passed, one JSON file per dataset."""

    def __init__(self, cache_dir: Optional[str], identity: str) -> None:
        self.path = None
        self.passed: set = set()
        if cache_dir is None:
            return
        digest = hashlib.sha1(identity.encode('utf-8')).hexdigest()[:16]
        self.path = osp.join(cache_dir, 'label_check', f'{digest}.json')
        try:
            with open(self.path, encoding='utf-8') as f:
                content = json.load(f)
            if content.get('version') == CACHE_VERSION:
                self.passed = set(content.get('passed', []))
        except (OSError, ValueError):
            pass  # no or unreadable cache: check everything

    def save(self, passed: Iterable[str]) -> None:
        """Write the keys of this check (drops entries of changed files)."""
        if self.path is None:
            return
        tmp = f'{self.path}.{os.getpid()}.tmp'
        try:
            os.makedirs(osp.dirname(self.path), exist_ok=True)
            with open(tmp, 'w', encoding='utf-8') as f:
                json.dump(dict(version=CACHE_VERSION, passed=sorted(passed)),
                          f)
            os.replace(tmp, self.path)
        except OSError as error:
            # The cache only saves time; the check itself has passed.
            print_log(f'label check: cannot write the cache {self.path} '
                      f'({error}); the next start reads every label again',
                      logger='current', level=logging.WARNING)


def _samples(dataset: Any,
             lines: Dict[str, int]) -> List[Tuple[_Sample, dict]]:
    """Samples with a label path, with the split line of each."""
    samples = []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        seg_path = info.get('seg_map_path')
        if seg_path is None:
            continue
        samples.append((_Sample(seg_map_path=seg_path,
                                img_path=info.get('img_path'),
                                line=lines.get(seg_path)), info))
    return samples


def _dataset_name(dataset: Any, source: Optional[str]) -> str:
    return (f'{type(dataset).__name__}({source})'
            if source else type(dataset).__name__)


def check_one_dataset(dataset: Any,
                      workers: int = 8,
                      cache_dir: Optional[str] = None,
                      num_classes: Optional[int] = None,
                      ignore_index: Optional[int] = None
                      ) -> DatasetLabelReport:
    """Check every label of one (leaf) dataset; see the module docstring."""
    if hasattr(dataset, 'full_init'):
        dataset.full_init()
    if num_classes is None:
        num_classes = len(dataset.metainfo.get('classes') or ())
    if ignore_index is None:
        ignore_index = getattr(dataset, 'ignore_index', 255)
    source, lines = label_sources(dataset)
    report = DatasetLabelReport(
        name=_dataset_name(dataset, source), source=source,
        num_classes=num_classes, ignore_index=ignore_index)
    loader = _label_loader(dataset)
    samples = _samples(dataset, lines) if loader is not None else []
    if loader is None:
        report.skipped = 'its pipeline loads no labels'
    elif not samples:
        report.skipped = 'it lists no labels'
    elif num_classes < 1:
        report.skipped = 'its metainfo has no classes; pass num_classes'
    if report.skipped:
        return report
    settings = _settings(dataset, loader, samples[0][1], num_classes,
                         ignore_index)
    _run_checks(report, [s for s, _ in samples], settings, workers,
                _Cache(cache_dir, f'{report.name}|{dataset.data_prefix}|'
                       f'{settings.cache_tag()}'))
    return report


def _run_checks(report: DatasetLabelReport, samples: Sequence[_Sample],
                settings: _Settings, workers: int, cache: _Cache) -> None:
    """Check the samples not in ``cache`` in parallel; fill ``report``."""
    keys = [_stat_key(sample, settings) for sample in samples]
    todo = [i for i, key in enumerate(keys)
            if key is None or key not in cache.passed]
    report.num_checked = len(samples)
    report.num_cached = len(samples) - len(todo)
    # Decoding (PIL, zlib) releases the GIL, so threads scale without the
    # start-up cost and pickling of a process pool.
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(
            lambda i: check_label_file(samples[i], settings), todo))
    failed = set()
    for index, messages in zip(todo, results):
        sample = samples[index]
        for message in messages:
            failed.add(index)
            report.problems.append(LabelProblem(
                seg_map_path=sample.seg_map_path, message=message,
                source=report.source, line=sample.line))
    cache.save(key for i, key in enumerate(keys)
               if key is not None and i not in failed)


def check_dataset_labels(dataset: Any,
                         workers: int = 8,
                         cache_dir: Optional[str] = None,
                         num_classes: Optional[int] = None,
                         ignore_index: Optional[int] = None
                         ) -> List[DatasetLabelReport]:
    """Check every leaf dataset of ``dataset`` (Concat/Repeat unwrapped).

    Args:
        dataset: a built dataset (mmsemi's or any ``BaseSegDataset``).
        workers: threads reading labels.
        cache_dir: folder of the pass cache; None disables it.
        num_classes: valid values are ``0 .. num_classes - 1``; default:
            the number of classes in the dataset's metainfo.
        ignore_index: the one other allowed value; default: the dataset's
            ``ignore_index`` (255).

    Returns:
        list[DatasetLabelReport]: one per leaf dataset.
    """
    return [
        check_one_dataset(leaf, workers, cache_dir, num_classes, ignore_index)
        for leaf in leaf_datasets(dataset)
    ]


def format_problems(reports: Sequence[DatasetLabelReport],
                    max_listed: int = 20) -> str:
    """The problems of ``reports`` (at most ``max_listed``), one per line."""
    problems = [p for report in reports for p in report.problems]
    lines = [f'  {problem}' for problem in problems[:max_listed]]
    if len(problems) > max_listed:
        lines.append(f'  ... and {len(problems) - max_listed} more')
    return '\n'.join(lines)

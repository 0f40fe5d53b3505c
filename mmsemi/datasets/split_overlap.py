# Copyright (c) mmsemi contributors. All rights reserved.
"""Find images that a labeled and an unlabeled split both list.

An unlabeled split that shares images with the labeled split (a split made
by hand, the wrong split file, the whole training list as "unlabeled")
trains without any error: the shared images are then learned from their
labels and from pseudo-labels, and the unlabeled set is smaller than the
numbers of the papers assume. :func:`find_split_overlap` compares the image
paths of the two sets of a ``ConcatDataset([labeled, unlabeled])``; the
training loop warns at start-up and ``tools/misc/check_dataset.py``
reports it.
"""
import os.path as osp
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from mmengine.dataset import BaseDataset

from .label_check import leaf_datasets

#: Overlapping names shown in a message.
MAX_EXAMPLES = 5


@dataclass
class SplitOverlap:
    """Images listed by both the labeled and an unlabeled set."""
    labeled_source: str
    unlabeled_source: str
    num_labeled: int
    num_unlabeled: int
    names: List[str]

    def message(self, max_examples: int = MAX_EXAMPLES) -> str:
        """One sentence naming the count, both sources and a few names."""
        shown = ', '.join(self.names[:max_examples])
        if len(self.names) > max_examples:
            shown += ', ...'
        return (f'{len(self.names)} of the {self.num_unlabeled} unlabeled '
                f'images ({self.unlabeled_source}) are also in the labeled '
                f'set of {self.num_labeled} images ({self.labeled_source}): '
                f'{shown}. They are trained on with their labels and with '
                'pseudo-labels; if that is not intended, remove them from '
                'the unlabeled split (tools/misc/split_dataset.py writes '
                'disjoint splits).')


def dataset_source(dataset: Any) -> str:
    """What lists a dataset's samples: its split file, ann file or data
    root, for messages."""
    split_path = getattr(dataset, 'split_path', None)
    if callable(split_path) and getattr(dataset, 'split_file', ''):
        return split_path()
    for attribute in ('ann_file', 'data_root'):
        value = getattr(dataset, attribute, None)
        if value:
            return str(value)
    return type(dataset).__name__


def image_names(dataset: BaseDataset) -> Dict[str, str]:
    """Normalised image path -> name shown in messages (the path relative
    to the dataset's image folder) of every sample of ``dataset``."""
    dataset.full_init()
    img_dir = (getattr(dataset, 'data_prefix', None) or {}).get('img_path')
    names: Dict[str, str] = {}
    for index in range(len(dataset)):
        path = dataset.get_data_info(index).get('img_path')
        if path is None:
            continue
        shown = path
        if img_dir and osp.normpath(path).startswith(
                osp.normpath(img_dir) + osp.sep):
            shown = osp.relpath(path, img_dir)
        names[osp.normpath(osp.abspath(path))] = shown
    return names


def _source_images(source: Any) -> Dict[str, str]:
    """Image names of one source of the ConcatDataset (wrappers such as a
    RepeatDataset looked through; datasets that are not mmengine
    ``BaseDataset``s hold no known image paths and are left out)."""
    names: Dict[str, str] = {}
    for leaf in leaf_datasets(source, strict=False):
        names.update(image_names(leaf))
    return names


def _source_label(source: Any) -> str:
    return ', '.join(dataset_source(leaf)
                     for leaf in leaf_datasets(source, strict=False))


def find_split_overlap(dataset: Any) -> List[SplitOverlap]:
    """Overlaps of the labeled set (source 0 of a ``ConcatDataset``, the
    :class:`LabeledUnlabeledSampler` convention) with each other source,
    empty when they are disjoint or ``dataset`` has fewer than two
    sources."""
    sources = list(getattr(dataset, 'datasets', []))
    if len(sources) < 2:
        return []
    labeled = _source_images(sources[0])
    overlaps: List[SplitOverlap] = []
    for source in sources[1:]:
        unlabeled = _source_images(source)
        shared = sorted(unlabeled[path] for path in unlabeled
                        if path in labeled)
        if shared:
            overlaps.append(SplitOverlap(
                labeled_source=_source_label(sources[0]),
                unlabeled_source=_source_label(source),
                num_labeled=len(labeled),
                num_unlabeled=len(unlabeled),
                names=shared))
    return overlaps


def split_overlap_message(dataset: Any) -> Optional[str]:
    """The warning for :func:`find_split_overlap`'s overlaps, or None."""
    overlaps = find_split_overlap(dataset)
    if not overlaps:
        return None
    return 'Labeled and unlabeled splits overlap: ' + ' '.join(
        overlap.message() for overlap in overlaps)

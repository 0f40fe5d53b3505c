# Copyright (c) mmsemi contributors. All rights reserved.
"""Segmentation dataset listed by a split file in any supported format."""
import os.path as osp
from typing import Dict, List, Optional

import mmengine.fileio as fileio

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .splits import SplitEntry, entry_to_name, is_name_entry, read_split_file


@DATASETS.register_module()
class SemiSegDataset(BaseSegDataset):
    """A labeled or unlabeled set of a semi-supervised split.

    Samples come from ``split_file`` (relative to ``data_root``), one per
    line, in any format of :mod:`mmsemi.datasets.splits`:

    * ``name``: image ``<data_prefix.img_path>/name<img_suffix>``, label
      ``<data_prefix.seg_map_path>/name<seg_map_suffix>`` (as mmseg);
    * ``a/b/x.jpg``: image path relative to ``data_root``; the label (only
      with ``with_label``) is derived like a name entry from the path
      relative to ``data_prefix.img_path`` without ``img_suffix`` (U2PL's
      Cityscapes lists);
    * ``a/x.jpg b/x.png``: image and label paths relative to ``data_root``
      (UniMatch/CorrMatch lists).

    Every listed image (and label, with ``with_label``) must exist; this is
    checked once when the dataset is built, so a wrong path fails at start-up
    with the split file and line rather than in a worker mid-training.

    Without ``split_file`` the dataset behaves like ``BaseSegDataset``
    (``ann_file`` or a directory scan).

    ``seg_map_fallback`` serves layouts that keep labels in two folders, such
    as mmseg's Pascal VOC "aug" layout (fine masks in ``SegmentationClass``,
    SBD masks in ``SegmentationClassAug``): a label that
    ``data_prefix.seg_map_path`` lacks is taken from the fallback folder, so
    an image with a fine mask keeps it (as in UniMatch's merged folder).

    Args:
        split_file (str): split file; '' to use ``ann_file``/directory scan.
        with_label (bool): resolve and check labels. False for unlabeled
            sets, which leaves ``seg_map_path`` None. Defaults to True.
        seg_map_fallback (str, optional): label folder, relative to
            ``data_root``, searched for labels of name entries (and image
            path entries) that ``data_prefix.seg_map_path`` does not hold.
            Explicit label paths of the split file are used as written.
        **kwargs: ``BaseSegDataset`` arguments.
    """

    def __init__(self,
                 split_file: str = '',
                 with_label: bool = True,
                 seg_map_fallback: Optional[str] = None,
                 **kwargs) -> None:
        # Set before the parent constructor, which calls load_data_list.
        self.split_file = split_file
        self.with_label = with_label
        self.seg_map_fallback = seg_map_fallback
        super().__init__(**kwargs)

    def _split_path(self) -> str:
        """``split_file`` joined with ``data_root`` (if relative)."""
        if self.data_root and not osp.isabs(self.split_file):
            return osp.join(self.data_root, self.split_file)
        return self.split_file

    def split_path(self) -> str:
        """The split file as read (joined with ``data_root`` if relative)."""
        return self._split_path()

    def label_lines(self) -> Dict[str, int]:
        """The 1-based line of the split file that lists each label path
        (empty without ``split_file`` or ``with_label``), for messages."""
        if not self.split_file or not self.with_label:
            return {}
        split_path = self._split_path()
        lines: Dict[str, int] = {}
        for entry in read_split_file(split_path):
            seg_path = self._resolve(entry, split_path)['seg_map_path']
            lines.setdefault(seg_path, entry.line)
        return lines

    def _root_join(self, path: str) -> str:
        return osp.join(self.data_root, path) if self.data_root else path

    def _img_prefix_rel(self) -> Optional[str]:
        """``data_prefix.img_path`` relative to ``data_root`` (None if '')."""
        img_dir = self.data_prefix.get('img_path') or ''
        if self.data_root and img_dir:
            img_dir = osp.relpath(img_dir, self.data_root)
        return img_dir if img_dir not in ('', '.') else None

    def _resolve(self, entry: SplitEntry, split_path: str) -> dict:
        """Image and label paths of one entry."""
        img_dir = self.data_prefix.get('img_path') or ''
        ann_dir = self.data_prefix.get('seg_map_path') or ''
        if is_name_entry(entry):
            img_path = osp.join(img_dir, entry.img + self.img_suffix)
            seg_path = self._label_path(ann_dir,
                                        entry.img + self.seg_map_suffix)
        else:
            img_path = self._root_join(entry.img)
            if entry.ann is not None:
                seg_path = self._root_join(entry.ann)
            elif self.with_label:
                name = entry_to_name(
                    entry,
                    img_suffix=self.img_suffix,
                    img_prefix=self._img_prefix_rel(),
                    path=split_path)
                seg_path = self._label_path(ann_dir,
                                            name + self.seg_map_suffix)
            else:
                seg_path = None
        return dict(
            img_path=img_path,
            seg_map_path=seg_path if self.with_label else None)

    def _label_path(self, ann_dir: str, rel_path: str) -> str:
        """``ann_dir/rel_path``, or the fallback folder's file when only
        that exists (the primary path is returned if neither does, so the
        error names the configured folder)."""
        path = osp.join(ann_dir, rel_path)
        if (self.seg_map_fallback and self.with_label
                and not fileio.exists(path, backend_args=self.backend_args)):
            fallback = osp.join(
                self._root_join(self.seg_map_fallback), rel_path)
            if fileio.exists(fallback, backend_args=self.backend_args):
                return fallback
        return path

    def _check_exists(self, kind: str, path: str, split_path: str,
                      line: int) -> None:
        if not fileio.exists(path, backend_args=self.backend_args):
            raise FileNotFoundError(
                f"{split_path}:{line}: {kind} '{path}' does not exist")

    def load_data_list(self) -> List[dict]:
        """Read the split file and check that every listed file exists.

        Raises:
            FileNotFoundError: naming split file, line and path of a missing
                image or label.
            ValueError: if the split lists no samples.
        """
        if not self.split_file:
            data_list = super().load_data_list()
            if not self.with_label:
                for info in data_list:
                    info['seg_map_path'] = None
            if not data_list:
                raise ValueError(
                    f'{self.ann_file or self.data_prefix.get("img_path")} '
                    'lists no samples (unlabeled set is empty?)')
            return data_list

        split_path = self._split_path()
        data_list = []
        for entry in read_split_file(split_path):
            info = self._resolve(entry, split_path)
            self._check_exists('image', info['img_path'], split_path,
                               entry.line)
            if info['seg_map_path'] is not None:
                self._check_exists('label', info['seg_map_path'], split_path,
                                   entry.line)
            info.update(
                label_map=self.label_map,
                reduce_zero_label=self.reduce_zero_label,
                seg_fields=[])
            data_list.append(info)
        if not data_list:
            raise ValueError(f'{split_path} lists no samples '
                             '(unlabeled set is empty?)')
        return data_list

# Copyright (c) mmsemi contributors. All rights reserved.
"""Annotation loading for unlabeled samples and label sanity checks."""
from typing import Optional

import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform

from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS

#: Key of the real label of an unlabeled image (diagnostics only).
UNSUP_GT_KEY = 'gt_unsup_seg_map'


def _add_seg_field(results: dict, key: str) -> None:
    """Register ``key`` so mmseg's Resize/RandomCrop/RandomFlip move it."""
    seg_fields = results.setdefault('seg_fields', [])
    if key not in seg_fields:
        seg_fields.append(key)


@TRANSFORMS.register_module()
class LoadUnlabeledAnnotations(LoadAnnotations):
    """Give an unlabeled sample a dummy ``gt_seg_map`` (and optionally its
    real label for pseudo-label diagnostics).

    ``gt_seg_map`` is all zeros (uint8, image H x W) and is listed in
    ``seg_fields``, so the geometric transforms crop/flip/resize it like a
    label. Zero marks a valid pixel; mmseg's ``stack_batch`` pads with 255,
    so after batching 255 marks padding (UniMatch's ignore mask). A dummy map
    is also needed because ``stack_batch`` writes ``pad_shape=None`` for
    samples without ``gt_sem_seg``.

    With ``with_gt=True`` the label file ``seg_map_path`` is also loaded (as
    mmseg's ``LoadAnnotations`` does, including ``reduce_zero_label`` and
    ``label_map``) into ``results['gt_unsup_seg_map']``, which is added to
    ``seg_fields``. It is never used for training, only to measure the
    quality of pseudo-labels. The unlabeled dataset then needs
    ``with_label=True`` so that ``seg_map_path`` is set.

    Required keys: ``img`` (and ``seg_map_path`` with ``with_gt``).
    Added keys: ``gt_seg_map``, ``seg_fields`` (and ``gt_unsup_seg_map``).

    Args:
        with_gt (bool): also load the real label. Defaults to False.
        reduce_zero_label, backend_args, imdecode_backend: as in mmseg's
            ``LoadAnnotations`` (used only with ``with_gt``).
    """

    def __init__(self,
                 with_gt: bool = False,
                 reduce_zero_label: Optional[bool] = None,
                 backend_args: Optional[dict] = None,
                 imdecode_backend: str = 'pillow') -> None:
        super().__init__(
            reduce_zero_label=reduce_zero_label,
            backend_args=backend_args,
            imdecode_backend=imdecode_backend)
        self.with_gt = with_gt

    def transform(self, results: dict) -> dict:
        """Add the dummy map (and the real label with ``with_gt``)."""
        if results.get('img') is None:
            raise ValueError('LoadUnlabeledAnnotations needs results["img"]; '
                             'put it after LoadImageFromFile')
        height, width = results['img'].shape[:2]
        results['gt_seg_map'] = np.zeros((height, width), dtype=np.uint8)
        _add_seg_field(results, 'gt_seg_map')
        if self.with_gt:
            results[UNSUP_GT_KEY] = self._load_real_label(results)
            _add_seg_field(results, UNSUP_GT_KEY)
        return results

    def _load_real_label(self, results: dict) -> np.ndarray:
        """Load ``seg_map_path`` with mmseg's loader, as an (H, W) array."""
        path = results.get('seg_map_path')
        img_path = results.get('img_path', '<unknown image>')
        if path is None:
            raise ValueError(
                f'LoadUnlabeledAnnotations(with_gt=True): sample {img_path!r} '
                'has no seg_map_path; build the unlabeled dataset with '
                'with_label=True or use with_gt=False')
        if not fileio.exists(path, backend_args=self.backend_args):
            raise FileNotFoundError(
                f'LoadUnlabeledAnnotations(with_gt=True): label {path!r} of '
                f'image {img_path!r} does not exist')
        # Load into a scratch dict so the dummy gt_seg_map stays in place.
        scratch = dict(
            seg_map_path=path,
            reduce_zero_label=results.get('reduce_zero_label', False),
            label_map=results.get('label_map'),
            seg_fields=[])
        self._load_seg_map(scratch)
        return scratch['gt_seg_map']

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(with_gt={self.with_gt}, '
                f'reduce_zero_label={self.reduce_zero_label}, '
                f"imdecode_backend='{self.imdecode_backend}', "
                f'backend_args={self.backend_args})')


@TRANSFORMS.register_module()
class CheckSegLabel(BaseTransform):
    """Fail early, with the file name, on labels that do not fit the config.

    Put it right after ``LoadAnnotations``. A wrong ``num_classes`` or a
    label saved at a different size than its image otherwise shows up much
    later as a CUDA assert or a crop error without a file name.

    Required keys: ``img``, ``gt_seg_map``.

    Args:
        num_classes (int): valid labels are ``0 .. num_classes - 1``.
        ignore_index (int): the one other allowed value. Defaults to 255.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255) -> None:
        if num_classes < 1:
            raise ValueError(f'num_classes must be >= 1, got {num_classes}')
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        """Check value range and shape of ``gt_seg_map``; returns results
        unchanged.

        Raises:
            ValueError: naming the label (and image) file and the problem.
        """
        label = results['gt_seg_map']
        seg_path = results.get('seg_map_path', '<unknown label>')
        img = results.get('img')
        if img is not None and label.shape[:2] != img.shape[:2]:
            raise ValueError(
                f'label {seg_path!r} has shape (H, W) = '
                f'{tuple(label.shape[:2])} but image '
                f"{results.get('img_path', '<unknown image>')!r} has "
                f'{tuple(img.shape[:2])}')
        values = np.unique(label)
        bad = values[((values < 0) | (values >= self.num_classes))
                     & (values != self.ignore_index)]
        if bad.size:
            raise ValueError(
                f'label {seg_path!r} has values {bad.tolist()} outside '
                f'[0, {self.num_classes}) and != ignore_index '
                f'{self.ignore_index}')
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_classes={self.num_classes}, '
                f'ignore_index={self.ignore_index})')

# Copyright (c) mmsemi contributors. All rights reserved.
"""Packing of semi-supervised samples."""
import numpy as np
from mmcv.transforms import to_tensor
from mmengine.structures import PixelData

from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

from .loading import UNSUP_GT_KEY


@TRANSFORMS.register_module()
class PackSemiSegInputs(PackSegInputs):
    """``PackSegInputs`` that also packs the real label of an unlabeled image.

    When ``results['gt_unsup_seg_map']`` (H, W) exists (see
    ``LoadUnlabeledAnnotations(with_gt=True)``) it becomes
    ``data_sample.gt_unsup_sem_seg = PixelData(data=LongTensor(1, H, W))``.
    Everything else is packed exactly as by ``PackSegInputs``.
    """

    def transform(self, results: dict) -> dict:
        """Pack ``inputs`` (3, H, W) and ``data_samples``."""
        packed = super().transform(results)
        label = results.get(UNSUP_GT_KEY)
        if label is not None:
            if label.ndim != 2:
                raise ValueError(f'{UNSUP_GT_KEY} must be (H, W), got shape '
                                 f'{label.shape} for '
                                 f"{results.get('img_path', '<unknown>')!r}")
            data = to_tensor(label[None].astype(np.int64))
            packed['data_samples'].gt_unsup_sem_seg = PixelData(data=data)
        return packed

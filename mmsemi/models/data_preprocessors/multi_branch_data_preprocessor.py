"""Data preprocessor for batches that hold several augmentation branches."""
from typing import List, Optional

import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample


@MODELS.register_module()
class MultiBranchSegDataPreprocessor(BaseDataPreprocessor):
    """Run a segmentation data preprocessor once per branch.

    In training the collated batch is ``{'inputs': {branch: [img | None]},
    'data_samples': {branch: [sample | None]}}`` as produced by
    :class:`MultiBranch`. ``None`` placeholders (a labeled sample has no
    unlabeled views and vice versa) are dropped, and every branch is
    normalised, padded to the crop size and stacked by the wrapped
    preprocessor. The result is ``{'inputs': {branch: (N, 3, H, W)},
    'data_samples': {branch: list[SegDataSample]}}``.

    The hidden ground truth of unlabeled images (``gt_unsup_sem_seg``, used
    only for pseudo-label diagnostics) is padded like ``gt_sem_seg`` so both
    stay aligned with the padded image.

    Outside training the wrapped preprocessor is applied unchanged, so
    validation and testing use stock single-branch data.

    Args:
        data_preprocessor (dict): Config of the wrapped preprocessor,
            usually ``SegDataPreProcessor`` with ``size=crop_size``.
    """

    def __init__(self, data_preprocessor: dict) -> None:
        super().__init__()
        self.data_preprocessor = MODELS.build(data_preprocessor)

    def forward(self, data: dict, training: bool = False) -> dict:
        if not training or not isinstance(data['inputs'], dict):
            return self.data_preprocessor(data, training)
        inputs, samples = {}, {}
        for branch, branch_inputs in data['inputs'].items():
            keep = [
                i for i, img in enumerate(branch_inputs) if img is not None
            ]
            if not keep:
                continue
            branch_samples = data['data_samples'][branch]
            out = self.data_preprocessor(
                dict(inputs=[branch_inputs[i] for i in keep],
                     data_samples=[branch_samples[i] for i in keep]),
                training=True)
            _pad_hidden_gt(out['data_samples'], out['inputs'].shape[-2:],
                           self.data_preprocessor.seg_pad_val)
            inputs[branch] = out['inputs']
            samples[branch] = out['data_samples']
        return dict(inputs=inputs, data_samples=samples)

    @property
    def device(self):
        return self.data_preprocessor.device

    def to(self, *args, **kwargs):
        self.data_preprocessor.to(*args, **kwargs)
        return super().to(*args, **kwargs)

    def cuda(self, *args, **kwargs):
        self.data_preprocessor.cuda(*args, **kwargs)
        return super().cuda(*args, **kwargs)

    def cpu(self, *args, **kwargs):
        self.data_preprocessor.cpu(*args, **kwargs)
        return super().cpu(*args, **kwargs)


def _pad_hidden_gt(samples: List[SegDataSample], size, pad_val: int) -> None:
    """Pad ``gt_unsup_sem_seg`` bottom/right to ``size`` (as
    ``stack_batch`` pads ``gt_sem_seg``)."""
    height, width = size
    for sample in samples:
        hidden: Optional[PixelData] = sample.get('gt_unsup_sem_seg', None)
        if hidden is None:
            continue
        data = hidden.data
        pad = (0, width - data.shape[-1], 0, height - data.shape[-2])
        sample.gt_unsup_sem_seg = PixelData(
            data=F.pad(data, pad, value=pad_val))

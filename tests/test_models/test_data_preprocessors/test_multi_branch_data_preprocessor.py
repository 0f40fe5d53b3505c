import torch
from mmengine.structures import PixelData

from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import mmsemi.models  # noqa: F401


def _sample(h, w, fill, hidden=None):
    s = SegDataSample()
    s.gt_sem_seg = PixelData(
        data=torch.full((1, h, w), fill, dtype=torch.uint8))
    if hidden is not None:
        s.gt_unsup_sem_seg = PixelData(
            data=torch.full((1, h, w), hidden, dtype=torch.long))
    return s


def _preprocessor():
    return MODELS.build(dict(
        type='MultiBranchSegDataPreprocessor',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[1., 2., 3.],
                               std=[2., 2., 2.], bgr_to_rgb=False, size=(6, 6),
                               pad_val=0, seg_pad_val=255)))


def test_training_drops_placeholders_and_pads_each_branch():
    pre = _preprocessor()
    img = torch.full((3, 4, 5), 5, dtype=torch.uint8)
    data = dict(
        inputs=dict(sup=[img, None], unsup_weak=[None, img]),
        data_samples=dict(sup=[_sample(4, 5, 1), None],
                          unsup_weak=[None, _sample(4, 5, 0, hidden=2)]))
    out = pre(data, training=True)
    assert set(out['inputs']) == {'sup', 'unsup_weak'}
    sup = out['inputs']['sup']
    assert sup.shape == (1, 3, 6, 6)
    # normalised content, padding with 0 after normalisation
    torch.testing.assert_close(sup[0, :, 0, 0], torch.tensor([2., 1.5, 1.]))
    assert torch.all(sup[0, :, 4:, :] == 0)
    assert torch.all(sup[0, :, :, 5:] == 0)
    weak = out['data_samples']['unsup_weak'][0]
    gt = weak.gt_sem_seg.data[0]
    assert gt.shape == (6, 6)
    assert torch.all(gt[:4, :5] == 0) and torch.all(gt[4:] == 255)
    hidden = weak.gt_unsup_sem_seg.data[0]
    assert hidden.shape == (6, 6)
    assert torch.all(hidden[:4, :5] == 2) and torch.all(hidden[:, 5] == 255)


def test_eval_delegates_to_wrapped_preprocessor():
    pre = _preprocessor()
    img = torch.zeros(3, 4, 5, dtype=torch.uint8)
    out = pre(dict(inputs=[img], data_samples=[SegDataSample()]),
              training=False)
    assert out['inputs'].shape == (1, 3, 4, 5)
    torch.testing.assert_close(out['inputs'][0, :, 0, 0],
                               torch.tensor([-0.5, -1., -1.5]))

"""A tiny DeepLabV3+ segmentor config and multi-branch batches for tests."""
import copy

import torch
from mmengine.structures import PixelData

from mmseg.structures import SegDataSample

NUM_CLASSES = 3

TINY_SEGMENTOR = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor', mean=[0., 0., 0.], std=[1., 1., 1.],
        bgr_to_rgb=False, pad_val=0, seg_pad_val=255, size=(32, 32)),
    backbone=dict(
        type='ResNetV1c', depth=18, stem_channels=8, base_channels=4,
        num_stages=4, out_indices=(0, 1, 2, 3), dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1), norm_cfg=dict(type='BN'),
        contract_dilation=True),
    decode_head=dict(
        type='SemiDeepLabV3PlusHead', in_channels=[4, 32], in_index=(0, 3),
        channels=8, c1_channels=4, dilations=(1, 2), num_classes=NUM_CLASSES,
        norm_cfg=dict(type='BN'), align_corners=True,
        loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))


def tiny_segmentor_cfg() -> dict:
    return copy.deepcopy(TINY_SEGMENTOR)


def make_sample(label: torch.Tensor, hidden_gt=None) -> SegDataSample:
    """A data sample with ``gt_sem_seg`` = label ``(H, W)``."""
    sample = SegDataSample()
    height, width = label.shape
    sample.set_metainfo(dict(img_shape=(height, width),
                             pad_shape=(height, width),
                             ori_shape=(height, width)))
    sample.gt_sem_seg = PixelData(data=label[None].long())
    if hidden_gt is not None:
        sample.gt_unsup_sem_seg = PixelData(data=hidden_gt[None].long())
    return sample


def unimatch_batch(num_l=2, num_u=2, size=32, seed=0):
    """Preprocessed multi-branch inputs and samples (as the model sees
    them): random images, random labels, the bottom rows of the unlabeled
    images marked as padding (255)."""
    gen = torch.Generator().manual_seed(seed)
    inputs = {b: torch.randn(n, 3, size, size, generator=gen)
              for b, n in [('sup', num_l), ('unsup_weak', num_u),
                           ('unsup_strong1', num_u), ('unsup_strong2', num_u)]}
    labels = torch.randint(0, NUM_CLASSES, (num_l, size, size), generator=gen)
    valid_marker = torch.zeros(size, size, dtype=torch.long)
    valid_marker[-4:] = 255
    hidden = torch.randint(0, NUM_CLASSES, (num_u, size, size), generator=gen)
    samples = {'sup': [make_sample(lbl) for lbl in labels]}
    for branch in ('unsup_weak', 'unsup_strong1', 'unsup_strong2'):
        samples[branch] = [make_sample(valid_marker, hidden[i])
                           for i in range(num_u)]
    return inputs, samples


def to_device(inputs, samples, device):
    """A multi-branch batch (``unimatch_batch``) moved to ``device``."""
    return ({b: x.to(device) for b, x in inputs.items()},
            {b: [s.to(device) for s in branch]
             for b, branch in samples.items()})


def fix_cutmix_boxes(model, boxes):
    """Make ``model`` draw ``boxes`` (``(N, H, W)`` bool each) as its next
    CutMix boxes, in order."""
    queue = list(boxes)
    model.cutmix_sampler = lambda *args, **kwargs: queue.pop(0)
    return model


#: method -> semi_train_cfg with its confidence thresholds at 0 and its
#: sampling sizes fit for tiny students
METHODS_AT_THRESHOLD_0 = {
    'UniMatch': dict(conf_thresh=0.0),
    'UniMatchV2': dict(conf_thresh=0.0),
    'RankMatch': dict(conf_thresh=0.0, rank_loss=dict(num_agents=8)),
    'CorrMatch': dict(conf_thresh=0.0),
    'U2PL': dict(max_iters=10, alpha0=0.0, contrast=dict(
        queue_length=64, num_queries=8, num_negatives=4,
        low_entropy_threshold=20)),
    'CSS': dict(iters_per_epoch=5, strong_branches=('unsup_strong1', ),
                conf_thresh=0.0, contrast_conf_thresh=0.0,
                rep_head=dict(type='ProjectionHead', channels=8,
                              out_channels=8, dropout_ratio=0.0),
                contrast=dict(num_anchors=8, num_negatives=4)),
}


def train_steps_at_threshold_0(model, size: int, steps: int = 2) -> None:
    """``steps`` SGD steps of ``model`` on ``unimatch_batch`` images of
    ``size``; every step's loss terms must be finite and every
    unsupervised term above 0 (the thresholds of
    :data:`METHODS_AT_THRESHOLD_0` keep every pixel)."""
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.SGD(params, lr=0.01)
    for step in range(steps):
        losses = model.loss(*unimatch_batch(size=size, seed=step))
        terms = {k: v for k, v in losses.items() if 'loss' in k}
        assert all(torch.isfinite(v).all() for v in terms.values()), terms
        unsup = {k: float(v) for k, v in terms.items()
                 if k.startswith('unsup.')}
        assert unsup and all(v > 0 for v in unsup.values()), unsup
        optim.zero_grad()
        sum(terms.values()).backward()
        optim.step()

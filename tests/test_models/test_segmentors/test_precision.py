"""float32 regions under autocast: the helper itself, and every computation
the methods keep in float32 gives, under bfloat16 autocast, exactly its
float32 result (and float32 state)."""
import pytest
import torch
import torch.nn.functional as F

import mmsemi.models  # noqa: F401
from mmsemi.models.decode_heads.correlation_head import (
    CorrelationHead, row_softmax_correlation)
from mmsemi.models.losses import (CategoryQueueInfoNCELoss,
                                  PrototypeContrastLoss, RankAwareKLLoss,
                                  masked_cross_entropy, masked_kl_div,
                                  reco_fraction_cross_entropy)
from mmsemi.models.losses.prototype_contrast import prototype_similarity
from mmsemi.models.segmentors.semi_base import upsample_float32
from mmsemi.models.utils import (DynamicThreshold, float32_compute,
                                 joint_geometric_augment, mix_features,
                                 propagate_regions_tiled,
                                 pseudo_labels_from_logits, reliable_mask,
                                 select_orthogonal_agents)


def _bf16_autocast():
    return torch.autocast('cpu', dtype=torch.bfloat16)


# ------------------------------------------------------------ the helper
def test_float32_compute_casts_half_arguments_and_disables_autocast():
    seen = {}

    @float32_compute
    def product(a, b, scale=1.0, *, c=None):
        seen['autocast'] = torch.is_autocast_enabled('cpu')
        seen['dtypes'] = (a.dtype, b.dtype, c.dtype)
        return (a @ b) * scale + c

    a = torch.randn(3, 4, dtype=torch.bfloat16, requires_grad=True)
    b = torch.randn(4, 2)
    c = torch.randn(3, 2, dtype=torch.float16)
    with _bf16_autocast():
        out = product(a, b, 2.0, c=c)
        assert torch.is_autocast_enabled('cpu')  # restored afterwards
    assert seen == dict(autocast=False, dtypes=(torch.float32, ) * 3)
    # computed in float32, not rounded to bfloat16 on the way
    expected = (a.float() @ b) * 2.0 + c.float()
    assert out.dtype == torch.float32
    assert torch.equal(out, expected)
    # gradients come back in the argument's own dtype
    out.sum().backward()
    assert a.grad.dtype == torch.bfloat16


def test_float32_compute_is_transparent_outside_autocast():
    @float32_compute
    def identity(x):
        return x

    x = torch.randn(2, dtype=torch.float64)
    assert identity(x) is x
    y = torch.randn(2)
    assert identity(y) is y


# ------------------------------------------- each float32 computation
def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _logits(n=2, k=4, h=6, w=7, scale=3.0, seed=0):
    return torch.randn(n, k, h, w, generator=_gen(seed)) * scale


def _masked_losses():
    logits = _logits().requires_grad_()
    target = _logits(seed=1).argmax(1)
    mask = torch.rand(2, 6, 7, generator=_gen(2)) > 0.3
    valid = torch.rand(2, 6, 7, generator=_gen(3)) > 0.1
    probs = _logits(seed=4).softmax(1)
    return (masked_cross_entropy(logits, target, mask, 'valid', valid),
            masked_kl_div(logits, probs, mask, 'mask', valid),
            reco_fraction_cross_entropy(logits, target,
                                        probs.max(1)[0], 0.5))


def _pseudo_labels_and_threshold():
    logits = _logits(k=5, scale=6.0)
    pseudo = pseudo_labels_from_logits(logits, 0.9)
    thresh = DynamicThreshold(init=0.85, momentum=0.9)
    thresh.update(logits)
    return pseudo.conf, pseudo.mask, thresh.tau


def _entropy_partition():
    probs = _logits(k=5).softmax(1)
    valid = torch.rand(2, 6, 7, generator=_gen(1)) > 0.2
    return (reliable_mask(probs, valid, 20.0),
            reliable_mask(probs, valid, 35.0, per_image=True))


def _rank_loss():
    feat_t = torch.randn(2, 8, 6, 6, generator=_gen(0))
    feat_s = (feat_t + 0.3 * torch.randn(2, 8, 6, 6, generator=_gen(1))
              ).requires_grad_()
    torch.manual_seed(0)
    loss = RankAwareKLLoss(num_agents=10, topk=3)(feat_t, feat_s)
    return loss, select_orthogonal_agents(feat_t, 10, torch.tensor([3, 7]))


def _category_queue():
    loss = CategoryQueueInfoNCELoss(num_classes=4, feat_dim=8,
                                    queue_length=16, num_queries=6,
                                    num_negatives=5, low_rank=1, high_rank=3)
    student = torch.randn(2, 8, 5, 6, generator=_gen(0), requires_grad=True)
    teacher = torch.randn(2, 8, 5, 6, generator=_gen(1))
    probs = torch.randn(2, 4, 5, 6, generator=_gen(2)).mul(3).softmax(1)
    torch.manual_seed(0)
    value = loss(student, teacher, probs, probs.argmax(1),
                 torch.tensor([True, False]), progress=0.3)
    return value, loss.queue, loss.queue_fill


def _prototype_contrast():
    loss = PrototypeContrastLoss(num_classes=3, feat_dim=4, num_anchors=8,
                                 num_negatives=5)
    rep = torch.randn(2, 4, 6, 6, generator=_gen(0), requires_grad=True)
    labels = torch.randint(0, 3, (2, 6, 6), generator=_gen(1))
    valid = torch.rand(2, 6, 6, generator=_gen(2)) > 0.2
    torch.manual_seed(0)
    first = loss(rep, labels, valid)  # initialises the prototypes
    second = loss(rep * 1.5, labels, valid)  # EMA update
    return (first, second, loss.prototypes,
            prototype_similarity(rep, loss.prototypes))


def _correlation():
    w1 = torch.randn(2, 5, 30, generator=_gen(0))
    w2 = torch.randn(2, 5, 30, generator=_gen(1))
    corr = row_softmax_correlation(w1, w2)
    head = CorrelationHead(in_channels=4, channels=4, corr_channels=5)
    prop = head.propagate(corr, _logits(k=5, h=11, w=13), (5, 6))
    return corr, prop


def _region_propagation():
    corr = torch.randn(2, 30, 30, generator=_gen(0)).mul(4).softmax(-1)
    labels = torch.randint(0, 4, (2, 20, 23), generator=_gen(1))
    conf = torch.rand(2, 20, 23, generator=_gen(2)) > 0.3
    return propagate_regions_tiled(labels, conf, corr,
                                   torch.tensor([0, 7, 12, 29]), (5, 6),
                                   0.6, 4, return_accepted=True)


def _feature_mixing_and_resampling():
    mask = torch.rand(2, 20, 23, generator=_gen(0)) > 0.5
    dst, src = (torch.randn(2, 3, 5, 6, generator=_gen(s)) for s in (1, 2))
    image = torch.randn(2, 3, 20, 23, generator=_gen(3))
    conf = torch.rand(2, 20, 23, generator=_gen(4))
    aug_image, (aug_conf, ), _ = joint_geometric_augment(
        image, [conf], [0.0], generator=_gen(5))
    return (mix_features(mask, dst, src), aug_image, aug_conf,
            upsample_float32(_logits(), (13, 15), True))


FLOAT32_COMPUTATIONS = {
    'masked losses': _masked_losses,
    'pseudo-labels and dynamic threshold': _pseudo_labels_and_threshold,
    'entropy partition': _entropy_partition,
    'rank-aware KL and agents': _rank_loss,
    'category queues': _category_queue,
    'prototype contrast': _prototype_contrast,
    'correlation': _correlation,
    'region propagation': _region_propagation,
    'feature mixing and joint augmentation': _feature_mixing_and_resampling,
}


@pytest.mark.parametrize('name', sorted(FLOAT32_COMPUTATIONS))
def test_float32_computation_is_unchanged_by_autocast(name):
    compute = FLOAT32_COMPUTATIONS[name]
    reference = compute()
    with _bf16_autocast():
        under_autocast = compute()
    for ref, out in zip(reference, under_autocast):
        if ref.is_floating_point():
            assert out.dtype == torch.float32, name
        assert torch.equal(out, ref), name


def test_rank_loss_of_half_precision_features_is_float32():
    feat_t = torch.randn(2, 8, 6, 6, generator=_gen(0))
    feat_s = feat_t + 0.3 * torch.randn(2, 8, 6, 6, generator=_gen(1))
    index = select_orthogonal_agents(feat_t, 10, torch.tensor([3, 7]))
    loss = RankAwareKLLoss(num_agents=10, topk=3)
    reference = loss(feat_t.bfloat16().float(), feat_s.bfloat16().float(),
                     index)
    with _bf16_autocast():
        value = loss(feat_t.bfloat16(), feat_s.bfloat16(), index)
    assert value.dtype == torch.float32
    assert torch.equal(value, reference)


def test_masked_cross_entropy_of_half_precision_logits_matches_float32():
    logits = _logits(scale=8.0).bfloat16().requires_grad_()
    target = _logits(seed=1).argmax(1)
    mask = torch.ones(2, 6, 7, dtype=torch.bool)
    with _bf16_autocast():
        value = masked_cross_entropy(logits, target, mask)
    expected = F.cross_entropy(logits.detach().float(), target)
    assert value.dtype == torch.float32
    torch.testing.assert_close(value, expected)
    value.backward()
    assert logits.grad.dtype == torch.bfloat16

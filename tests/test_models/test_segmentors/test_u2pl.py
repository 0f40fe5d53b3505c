"""U2PL: loss keys, supervised warm-up, teacher pseudo-labels, drop-rate
schedule and checkpointed state."""
import pytest
import torch

from mmseg.registry import MODELS

import mmsemi.models  # noqa: F401
import mmsemi.models.segmentors.u2pl as u2pl_module
from _tiny import NUM_CLASSES, tiny_segmentor_cfg, unimatch_batch

SIZE = 33


def _model(**train_cfg):
    torch.manual_seed(0)
    cfg = dict(max_iters=10,
               rep_head=dict(type='ProjectionHead', channels=8,
                             out_channels=8, dropout_ratio=0.1),
               contrast=dict(queue_length=64, num_queries=4,
                             num_negatives=3))
    cfg.update(train_cfg)
    return MODELS.build(dict(type='U2PL', segmentor=tiny_segmentor_cfg(),
                             semi_train_cfg=cfg))


def _batch(seed=0):
    return unimatch_batch(size=SIZE, seed=seed)


def _total(losses):
    return sum(v for k, v in losses.items() if 'loss' in k)


def _without_cutmix(model):
    """Make ``model`` draw empty CutMix boxes."""
    model.cutmix_sampler = \
        lambda num, h, w, **kw: torch.zeros(num, h, w, dtype=torch.bool)
    return model


def test_loss_keys_and_backward():
    model = _model()
    model.train()
    losses = model.loss(*_batch())
    expected = {'sup.decode.loss_ce', 'unsup.loss_u', 'unsup.drop_rate',
                'unsup.lambda_u', 'unsup.mask_ratio', 'unsup.pl_acc',
                'unsup.loss_contrast'}
    assert expected <= set(losses)
    total = _total(losses)
    assert torch.isfinite(total)
    total.backward()
    assert model.student.rep_head.proj.weight.grad is not None
    assert all(p.grad is None for p in model.teacher.parameters())
    # lambda_u = N_valid / N_kept >= 1 and ~ 1 / (1 - alpha_0)
    assert 1.0 <= losses['unsup.lambda_u'] < 1.3
    assert losses['unsup.drop_rate'] == pytest.approx(0.2)


def test_warmup_gives_zero_unsup_losses():
    model = _model(sup_only_iters=2)
    model.train()
    for it in range(3):
        losses = model.loss(*_batch())
        if it < 2:
            assert losses['unsup.loss_u'].item() == 0.0
            assert losses['unsup.loss_contrast'].item() == 0.0
            assert losses['unsup.loss_u'].requires_grad
            assert 'unsup.lambda_u' not in losses
        else:
            assert losses['unsup.loss_u'].item() > 0.0
    assert int(model.cur_iter) == 3


def test_teacher_pseudo_labels_are_the_targets(monkeypatch):
    model = _without_cutmix(_model())
    model.train()
    inputs, samples = _batch()
    seen = []
    real = u2pl_module.masked_cross_entropy

    def spy(logits, target, mask, **kwargs):
        seen.append(target.clone())
        return real(logits, target, mask, **kwargs)

    monkeypatch.setattr(u2pl_module, 'masked_cross_entropy', spy)
    model.loss(inputs, samples)
    # the targets are the eval-mode teacher's argmax (no CutMix here)
    model.teacher.eval()
    with torch.no_grad():
        expected = model.upsample_logits(
            model.teacher._forward(inputs['unsup_weak']),
            (SIZE, SIZE)).argmax(1)
    model.train()
    assert torch.equal(seen[0], expected)
    # perturbing the teacher (not the student) changes the targets
    with torch.no_grad():
        for p in model.teacher.decode_head.conv_seg.parameters():
            p.add_(torch.randn_like(p))
    model.cur_iter.zero_()
    model.loss(inputs, samples)
    assert not torch.equal(seen[0], seen[1])


def test_drop_rate_schedule_and_state_dict():
    model = _model(max_iters=100, iters_per_epoch=10)
    assert model.drop_rate(0) == pytest.approx(0.2)
    assert model.drop_rate(9) == pytest.approx(0.2)
    assert model.drop_rate(50) == pytest.approx(0.1)
    assert model.drop_rate(100) == pytest.approx(0.0)
    model.train()
    model.loss(*_batch())
    state = model.state_dict()
    assert int(state['cur_iter']) == 1
    assert any(k.startswith('student.rep_head.') for k in state)
    assert any(k.startswith('teacher.rep_head.') for k in state)
    fresh = _model(max_iters=100, iters_per_epoch=10)
    fresh.load_state_dict(state)
    assert int(fresh.cur_iter) == 1


def test_teacher_mode_and_inference():
    model = _model()
    model.train()
    assert model.teacher.training  # official: train-mode second pass
    model.eval()
    assert not model.teacher.training
    inputs, _ = _batch()
    out = model._forward(inputs['sup'])
    assert out.shape[1] == NUM_CLASSES


def test_unknown_key_rejected():
    with pytest.raises(KeyError):
        _model(drop_percent=80)


def test_unsup_loss_adaptive_weight(monkeypatch):
    """L_u = N_valid / N_kept^2 * sum of CE over the kept pixels."""
    model = _without_cutmix(_model(unsup_weight=1.0))
    model.train()
    seen = {}
    real = u2pl_module.masked_cross_entropy

    def spy(logits, target, mask, **kwargs):
        seen.update(logits=logits.detach(), target=target, mask=mask)
        return real(logits, target, mask, **kwargs)

    monkeypatch.setattr(u2pl_module, 'masked_cross_entropy', spy)
    inputs, samples = _batch()
    losses = model.loss(inputs, samples)
    valid = model.valid_mask(samples['unsup_weak'])
    ce = torch.nn.functional.cross_entropy(
        seen['logits'], seen['target'], reduction='none')
    kept = seen['mask']
    assert not (kept & ~valid).any()
    n_kept = kept.sum().item()
    # alpha_0 = 20% of the valid pixels are dropped
    assert abs(n_kept - 0.8 * valid.sum().item()) <= 2
    expected = valid.sum() / n_kept ** 2 * ce[kept].sum()
    assert losses['unsup.loss_u'].item() == pytest.approx(
        expected.item(), rel=1e-5)


def test_contrast_weight_is_the_effective_weight(monkeypatch):
    """No 1/#GPUs factor: L_c = contrast_weight * loss module output."""
    model = _model(contrast_weight=0.25)
    model.train()
    calls = []

    def fake(rep, rep_t, probs, labels, is_labeled, **kwargs):
        calls.append((labels.shape, is_labeled.clone(), kwargs))
        return 0.0 * rep.sum() + 2.0

    monkeypatch.setattr(model.contrast_loss, 'forward', fake)
    losses = model.loss(*_batch())
    assert losses['unsup.loss_contrast'].item() == pytest.approx(0.5)
    shape, is_labeled, kwargs = calls[0]
    assert shape == (4, SIZE, SIZE)
    assert is_labeled.tolist() == [True, True, False, False]
    assert kwargs['progress'] == 0.0
    # labeled images are never unreliable
    assert not kwargs['unreliable'][:2].any()


def test_queues_fill_and_are_saved():
    model = _model()
    model.train()
    for seed in range(2):
        losses = model.loss(*_batch(seed))
        assert torch.isfinite(losses['unsup.loss_contrast'])
    state = model.state_dict()
    assert int(state['contrast_loss.queue_fill'].sum()) > 0

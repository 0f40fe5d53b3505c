"""DynamicThreshold (CorrMatch spec §6; properties §13.19-24)."""
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from mmsemi.models.utils import DynamicThreshold


def _logits(probs):
    """(1, K, 1, P) logits whose softmax over K is ``probs`` (P x K)."""
    return torch.tensor(probs).log().t()[None, :, None, :]


# Pixels: (.7, .2, .1) -> class 0, conf .7; (.6, .3, .1) -> class 0, .6;
# (.1, .8, .1) -> class 1, .8.   Delta = mean(.7, .8) = .75.
PROBS = [[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.1, 0.8, 0.1]]


def test_one_update_hand_computed():
    """§13.19: tau <- m * tau + (1 - m) * Delta; 0.9 * .85 + 0.1 * .75."""
    thr = DynamicThreshold(init=0.85, momentum=0.9)
    class_max = thr.class_max_confidence(_logits(PROBS))
    torch.testing.assert_close(class_max, torch.tensor([0.7, 0.8, -1.0]))
    tau = thr.update(_logits(PROBS))
    assert tau is thr.tau
    torch.testing.assert_close(thr.tau, torch.tensor(0.84))
    assert DynamicThreshold().momentum == 0.999
    assert float(DynamicThreshold().tau) == pytest.approx(0.85)


def test_delta_invariant_to_class_counts_and_ignored_pixels():
    """§13.20: duplicating class-0 pixels and changing ignored pixels does
    not change Delta (here .75)."""
    dup = _logits(PROBS + [[0.6, 0.3, 0.1]] * 5)
    thr = DynamicThreshold(init=0.0, momentum=0.0)
    thr.update(dup)
    torch.testing.assert_close(thr.tau, torch.tensor(0.75))
    # An ignored pixel with a very confident class-2 prediction.
    extra = _logits(PROBS + [[0.01, 0.01, 0.98]])
    valid = torch.tensor([[[True, True, True, False]]])
    thr = DynamicThreshold(init=0.0, momentum=0.0)
    thr.update(extra, valid)
    torch.testing.assert_close(thr.tau, torch.tensor(0.75))
    # Without the ignore map it would count: mean(.7, .8, .98).
    thr = DynamicThreshold(init=0.0, momentum=0.0)
    thr.update(extra)
    torch.testing.assert_close(thr.tau, torch.tensor(2.48 / 3))


def test_no_valid_pixel_keeps_tau():
    """§13.21."""
    thr = DynamicThreshold(init=0.85, momentum=0.5)
    thr.update(_logits(PROBS), torch.zeros(1, 1, 3, dtype=torch.bool))
    assert float(thr.tau) == pytest.approx(0.85)


def test_bounds_and_geometric_convergence():
    """§13.22: 1/K <= Delta <= 1; with a constant Delta,
    |tau_t - Delta| = m^t |tau_0 - Delta|."""
    gen = torch.Generator().manual_seed(0)
    for scale in (0.01, 1.0, 100.0):
        logits = torch.randn(2, 5, 4, 4, generator=gen) * scale
        class_max = DynamicThreshold.class_max_confidence(logits)
        present = class_max[class_max >= 0]
        assert bool((present >= 1 / 5 - 1e-6).all())
        assert bool((present <= 1).all())
    thr = DynamicThreshold(init=0.2, momentum=0.5)
    logits = _logits(PROBS)
    for t in range(1, 6):
        thr.update(logits)
        assert abs(float(thr.tau) - 0.75) == pytest.approx(
            0.5**t * 0.55, abs=1e-6)


def test_fixed_threshold_never_updates():
    """Cityscapes: fixed tau = 0."""
    thr = DynamicThreshold(init=0.0, fixed=True)
    for _ in range(3):
        thr.update(_logits(PROBS))
    assert float(thr.tau) == 0.0


def test_state_dict_round_trip():
    """§13.24 (mmsemi deviation: the original does not checkpoint tau)."""
    thr = DynamicThreshold(init=0.85, momentum=0.9)
    thr.update(_logits(PROBS))
    state = thr.state_dict()
    assert list(state) == ['tau']
    fresh = DynamicThreshold()
    fresh.load_state_dict(state)
    assert float(fresh.tau) == float(thr.tau)
    assert float(fresh.tau) == pytest.approx(0.84)


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


# Rank 0 sees pixels 0-1 (class 0: .7, .6), rank 1 sees pixel 2 (class 1:
# .8) and an ignored class-2 pixel; gathered Delta = mean(.7, .8) = .75.
RANK_PROBS = [PROBS[:2], [PROBS[2], [0.01, 0.01, 0.98]]]
RANK_VALID = [[True, True], [True, False]]


def _worker(rank, world_size, port, out_dir):
    import torch.distributed as torch_dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch_dist.init_process_group('gloo', rank=rank, world_size=world_size)
    try:
        thr = DynamicThreshold(init=0.85, momentum=0.9)
        valid = torch.tensor(RANK_VALID[rank]).view(1, 1, -1)
        thr.update(_logits(RANK_PROBS[rank]), valid)
        torch.save(thr.tau.clone(), os.path.join(out_dir, f'{rank}.pth'))
    finally:
        torch_dist.destroy_process_group()


def test_tau_identical_on_all_ranks(tmp_path):
    """§13.23: two gloo CPU processes with different local data end with
    the same tau, equal to a single-process update on all the data."""
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2,
             join=True)
    taus = [torch.load(tmp_path / f'{r}.pth') for r in range(2)]
    assert float(taus[0]) == float(taus[1])
    torch.testing.assert_close(taus[0], torch.tensor(0.84))
    # Local updates would differ: rank 0 alone gives Delta = .7.
    local = DynamicThreshold(init=0.85, momentum=0.9)
    local.update(_logits(RANK_PROBS[0]))
    assert float(local.tau) != pytest.approx(0.84)

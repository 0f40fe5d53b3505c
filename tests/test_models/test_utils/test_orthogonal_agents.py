"""Orthogonal agent selection (spec §4.2, §11 18-22)."""
import pytest
import torch
import torch.nn.functional as F

from mmsemi.models.utils import gather_agents, select_orthogonal_agents


def _brute_force(feats, num_agents, start):
    """Each new pixel minimises, over the unselected pixels, the maximum
    |cos| to the selected ones (one image, plain loops)."""
    unit = F.normalize(feats.flatten(1).t(), dim=1)
    chosen = [int(start)]
    while len(chosen) < num_agents:
        best, best_score = None, None
        for m in range(unit.shape[0]):
            if m in chosen:
                continue
            score = max(abs(float(unit[m] @ unit[s])) for s in chosen)
            if best_score is None or score < best_score:
                best, best_score = m, score
        chosen.append(best)
    return sorted(chosen)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_matches_the_brute_force_reference(seed):
    gen = torch.Generator().manual_seed(seed)
    feats = torch.randn(3, 5, 4, 6, generator=gen, dtype=torch.float64)
    start = torch.randint(24, (3, ), generator=gen)
    index = select_orthogonal_agents(feats, 9, start)
    assert index.shape == (3, 9) and index.dtype == torch.long
    for b in range(3):
        assert index[b].tolist() == _brute_force(feats[b], 9, start[b])


def test_distinct_sorted_indices_containing_the_start_and_deterministic():
    gen = torch.Generator().manual_seed(0)
    feats = torch.rand(2, 8, 5, 5, generator=gen)
    start = torch.tensor([4, 17])
    index = select_orthogonal_agents(feats, 12, start)
    for b in range(2):
        row = index[b].tolist()
        assert len(set(row)) == 12 and row == sorted(row)
        assert start[b].item() in row
        assert all(0 <= i < 25 for i in row)
    assert torch.equal(select_orthogonal_agents(feats, 12, start), index)
    torch.manual_seed(5)
    first = select_orthogonal_agents(feats, 12)
    torch.manual_seed(5)
    assert torch.equal(select_orthogonal_agents(feats, 12), first)


def test_invariant_to_positive_rescaling_and_sign_flips_of_pixels():
    gen = torch.Generator().manual_seed(1)
    feats = torch.randn(2, 6, 4, 4, generator=gen, dtype=torch.float64)
    start = torch.tensor([3, 9])
    index = select_orthogonal_agents(feats, 7, start)
    scale = torch.rand(2, 1, 4, 4, generator=gen, dtype=torch.float64) + 0.1
    sign = torch.randint(0, 2, (2, 1, 4, 4), generator=gen) * 2 - 1
    assert torch.equal(
        select_orthogonal_agents(feats * scale * sign, 7, start), index)


def test_picks_each_orthogonal_direction_once():
    """N mutually orthogonal directions, each repeated: one pixel each."""
    directions = torch.eye(4).repeat_interleave(4, dim=0)  # (16, 4)
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(0))
    feats = (directions[perm] * (torch.arange(16)[:, None] + 1.0)).t()
    feats = feats.reshape(1, 4, 4, 4)
    index = select_orthogonal_agents(feats, 4, torch.tensor([5]))
    picked = directions[perm][index[0]].argmax(1)
    assert sorted(picked.tolist()) == [0, 1, 2, 3]


def test_too_many_agents_is_an_error_and_agents_gather_both_views():
    feats = torch.rand(2, 3, 2, 3)
    with pytest.raises(ValueError, match=r'num_agents .* h \* w = 6'):
        select_orthogonal_agents(feats, 7)
    index = torch.tensor([[0, 4], [5, 1]])
    agents = gather_agents(feats, index)
    assert agents.shape == (2, 2, 3)
    flat = feats.flatten(2)
    for b in range(2):
        for n in range(2):
            assert torch.equal(agents[b, n], flat[b, :, index[b, n]])

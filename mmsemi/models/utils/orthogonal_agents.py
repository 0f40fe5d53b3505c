"""RankMatch's agents: pixel features chosen greedily to be as orthogonal
as possible to each other (spec §4.2)."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from .precision import float32_compute


@float32_compute
def select_orthogonal_agents(feats: Tensor,
                             num_agents: int,
                             start: Optional[Tensor] = None) -> Tensor:
    """Greedy minimax-|cos| selection of ``num_agents`` pixels per image.

    Starting from pixel ``start`` (uniform random per image by default,
    from torch's generator), each step adds the unselected pixel whose
    largest absolute cosine similarity to the already selected pixels is
    smallest (farthest-point sampling with dissimilarity ``1 - |cos|``).
    The ``N - 1`` steps are sequential by definition; each is one batched
    matrix-vector product over all images. A running maximum replaces the
    official code's ``(B, M, N)`` cosine cache (same result).

    Args:
        feats (Tensor): Features ``(B, C, h, w)``; only their directions
            matter.
        num_agents (int): ``N``, at most ``h * w``.
        start (Tensor, optional): First pixel per image, ``(B, )`` long
            flat indices.

    Returns:
        Tensor: ``(B, N)`` long flat pixel indices, in ascending order (as
        the official ``masked_select`` returns the agents).
    """
    batch, _, height, width = feats.shape
    num_pixels = height * width
    if not 1 <= num_agents <= num_pixels:
        raise ValueError(
            f'num_agents must lie in [1, h * w = {num_pixels}] for feature '
            f'maps of {height}x{width}; got {num_agents}')
    unit = F.normalize(feats.detach().flatten(2).transpose(1, 2), dim=-1)
    if start is None:
        start = torch.randint(num_pixels, (batch, ), device=feats.device)
    images = torch.arange(batch, device=feats.device)
    selected = torch.zeros(batch, num_pixels, dtype=torch.bool,
                           device=feats.device)
    selected[images, start] = True
    max_cos = unit.new_zeros(batch, num_pixels)
    newest = start
    picked = [start]
    for _ in range(num_agents - 1):
        cos = torch.einsum('bmc,bc->bm', unit, unit[images, newest]).abs()
        max_cos = torch.maximum(max_cos, cos)
        newest = max_cos.masked_fill(selected, float('inf')).argmin(dim=1)
        selected[images, newest] = True
        picked.append(newest)
    return torch.stack(picked, dim=1).sort(dim=1).values


def gather_agents(feats: Tensor, index: Tensor) -> Tensor:
    """Features at flat pixel ``index`` ``(B, N)`` of ``feats``
    ``(B, C, h, w)``, as agents ``(B, N, C)`` (differentiable in
    ``feats``)."""
    flat = feats.flatten(2)
    return flat.gather(2, index[:, None].expand(-1, flat.shape[1], -1)
                       ).transpose(1, 2)

"""UniMatch V2's complementary channel dropout."""
from typing import Optional

import torch
from torch import Tensor


def complementary_channel_masks(num: int,
                                channels: int,
                                kept_ratio: float = 0.5,
                                generator: Optional[torch.Generator] = None,
                                device=None) -> Tensor:
    """Channel masks of two views of ``num`` images, one per image and
    channel, complementary between the views.

    For the first view ``m1 = 2 * Bernoulli(0.5)`` (0 or 2, so the expected
    feature is unchanged), for the second ``m2 = 2 - m1``: a channel the
    first view drops is doubled in the second and vice versa. The first
    ``int(num * kept_ratio)`` images of a random permutation keep every
    channel (mask 1) in both views. Draw order as UniMatch V2's: the
    Bernoulli matrix, then the permutation.

    Args:
        num (int): Images per view ``N``.
        channels (int): Feature channels ``C``.
        kept_ratio (float): Share of images left unmasked. Defaults to 0.5.
        generator (torch.Generator, optional): Source of randomness (CPU).
        device: Device of the returned masks.

    Returns:
        Tensor: ``(2N, C)`` float, rows ``[:N]`` for the first view and
        ``[N:]`` for the second.
    """
    if not 0.0 <= kept_ratio <= 1.0:
        raise ValueError(f'kept_ratio must lie in [0, 1]; got {kept_ratio}')
    first = torch.bernoulli(torch.full((num, channels), 0.5),
                            generator=generator) * 2.0
    second = 2.0 - first
    kept = torch.randperm(num, generator=generator)[:int(num * kept_ratio)]
    first[kept] = 1.0
    second[kept] = 1.0
    return torch.cat([first, second]).to(device)

"""The official UniMatch/CorrMatch decode step with feature perturbation,
written on :class:`SemiDeepLabV3PlusHead`: the oracle the official-step
tests compare :func:`mmsemi.models.utils.decode_with_perturbation` with."""
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def official_forward_with_perturbation(head, inputs: Sequence[Tensor],
                                       dropout: float = 0.5
                                       ) -> Tuple[Tensor, Tensor]:
    """The official model's ``forward(need_fp=True)``: clean and
    channel-dropped features decoded together.

    ``Dropout2d(dropout)`` is applied to both selected stages (always,
    whatever the module's mode) and the clean and perturbed halves go
    through the decoder as one batch, so BN sees both.

    Returns:
        tuple: clean logits and perturbed logits, each
        ``(N, num_classes, h, w)``.
    """
    c1, c4 = head._transform_inputs(inputs)
    c1 = torch.cat([c1, F.dropout2d(c1, dropout, training=True)])
    c4 = torch.cat([c4, F.dropout2d(c4, dropout, training=True)])
    clean, perturbed = head.cls_seg(head._decode(c1, c4)).chunk(2)
    return clean, perturbed

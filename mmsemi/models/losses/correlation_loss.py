"""Cross-entropy of CorrMatch's propagated ("correlation") logits."""
from typing import Optional

from torch import Tensor

from mmseg.models.utils import resize
from mmseg.registry import MODELS
from .masked_losses import _MaskedLoss, masked_cross_entropy


@MODELS.register_module()
class CorrelationLoss(_MaskedLoss):
    r"""Masked CE of propagated logits, after upsampling to the target size.

    ``loss_weight * masked_cross_entropy(up(z), target, mask, normalize,
    valid)`` where ``z`` is :meth:`CorrelationHead.propagate`'s output
    ``(N, K, h, w)`` and ``up`` is a bilinear resize to the target's
    ``H x W`` (``align_corners=True`` as in CorrMatch). See
    :func:`~mmsemi.models.losses.masked_cross_entropy` for the reduction;
    ``normalize='valid'`` (divide by the number of valid pixels) is the
    official choice for the unlabeled terms.

    Since ``propagate`` detaches the logits, this loss trains only the
    correlation branch (``proj``, the 1x1 convs) and the backbone feature
    it reads, never the decode head.

    Args:
        normalize (str): 'valid' | 'mask' | 'all'. Defaults to 'valid'.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Loss dict key. Defaults to 'loss_corr'.
        align_corners (bool): Of the upsampling. Defaults to True.
    """

    def __init__(self,
                 normalize: str = 'valid',
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_corr',
                 align_corners: bool = True) -> None:
        super().__init__(normalize, loss_weight, loss_name)
        self.align_corners = align_corners

    def forward(self,
                prop_logits: Tensor,
                target: Tensor,
                mask: Tensor,
                valid: Optional[Tensor] = None) -> Tensor:
        """Args: prop_logits ``(N, K, h, w)``, target ``(N, H, W)`` long,
        mask ``(N, H, W)`` bool/float, valid ``(N, H, W)`` bool or None.
        Returns a scalar."""
        if prop_logits.dim() != 4 or target.dim() != 3:
            raise ValueError(
                'CorrelationLoss: prop_logits must be (N, K, h, w) and '
                f'target (N, H, W); got {tuple(prop_logits.shape)} and '
                f'{tuple(target.shape)}')
        logits = prop_logits
        if tuple(logits.shape[2:]) != tuple(target.shape[1:]):
            logits = resize(logits, size=tuple(target.shape[1:]),
                            mode='bilinear', align_corners=self.align_corners)
        return self.loss_weight * masked_cross_entropy(
            logits, target, mask, self.normalize, valid)

"""ReCo's confidence-fraction weighted cross-entropy (the unsupervised loss
of ReCo, PRCL and CSS)."""
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS
from ..utils.precision import float32_compute


@float32_compute
def reco_fraction_cross_entropy(logits: Tensor, target: Tensor, conf: Tensor,
                                threshold: float,
                                ignore_index: int = 255) -> Tensor:
    r"""Per-image confidence-fraction weighted CE.

    .. math::
        w_b = \frac{\#\{p: conf_{b,p} \ge \delta\}}
                   {\#\{p: y_{b,p} \ne ignore\}}, \qquad
        L = \mathrm{mean}_{(b,p):\,\ell_{b,p} > 0}\; w_b\,\ell_{b,p}

    where :math:`\ell` is the pixel CE (0 on ignored pixels). The numerator
    counts every pixel (ignored ones too), so :math:`w_b` may exceed 1, as
    in the official code. An all-ignored batch gives 0 (not NaN).

    Args:
        logits (Tensor): ``(N, K, H, W)``.
        target (Tensor): ``(N, H, W)`` long, ``ignore_index`` ignored.
        conf (Tensor): ``(N, H, W)`` confidences.
        threshold (float): :math:`\delta`.
    """
    pixel = F.cross_entropy(logits, target, reduction='none',
                            ignore_index=ignore_index)
    confident = (conf.detach() >= threshold).flatten(1).sum(1)
    labelled = (target != ignore_index).flatten(1).sum(1)
    weight = confident.float() / labelled.clamp(min=1).float()
    weighted = weight[:, None, None] * pixel
    positive = (pixel > 0).float()
    return (weighted * positive).sum() / positive.sum().clamp(min=1)


@MODELS.register_module()
class ReCoThresholdCELoss(nn.Module):
    """Module form of :func:`reco_fraction_cross_entropy` (same shapes).

    Args:
        threshold (float): Confidence threshold. Defaults to 0.97.
        ignore_index (int): Defaults to 255.
        loss_weight (float): Defaults to 1.0.
        loss_name (str): Defaults to 'loss_reco_ce'.
    """

    def __init__(self, threshold: float = 0.97, ignore_index: int = 255,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_reco_ce') -> None:
        super().__init__()
        self.threshold = threshold
        self.ignore_index = ignore_index
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, logits: Tensor, target: Tensor, conf: Tensor) -> Tensor:
        return self.loss_weight * reco_fraction_cross_entropy(
            logits, target, conf, self.threshold, self.ignore_index)

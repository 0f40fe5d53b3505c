"""ReCo's confidence-fraction weighted cross-entropy (the unsupervised loss
of ReCo, PRCL and CSS)."""
import torch.nn.functional as F
from torch import Tensor

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

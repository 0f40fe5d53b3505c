"""CorrMatch's dynamic global confidence threshold (spec §6)."""
from typing import Optional

import torch
import torch.nn as nn
from mmengine import dist
from torch import Tensor

from .pseudo_label import class_probabilities


class DynamicThreshold(nn.Module):
    r"""EMA of the mean per-class maximum confidence, gathered over ranks.

    One :meth:`update` per training iteration, called by the model's loss
    **right before** ``tau`` is used that iteration (the official order:
    update, then threshold; no warm-up):

    1. ``p = softmax(logits)``, ``conf = max_k p``, ``cls = argmax_k
       logits`` of the weak unlabeled logits (not CutMix-ed);
    2. for every class ``c`` with at least one valid pixel,
       ``m_c = max{conf(x) : cls(x) = c, valid(x)}``, over **all ranks**;
    3. :math:`\Delta = \frac{1}{|L|}\sum_{c \in L} m_c` (each present class
       once, however many pixels it has);
    4. :math:`\tau \leftarrow m\,\tau + (1 - m)\,\Delta`; with no valid
       pixel anywhere ``tau`` is unchanged.

    The official code all-gathers the logits; gathering the ``K`` per-class
    maxima, reducing them with a max over ranks and averaging over the
    classes present on any rank gives the same ``Δ`` with far less
    traffic, and every rank ends with the same ``tau``.

    ``tau`` is a registered buffer, so it is saved in checkpoints and
    restored on resume: an mmsemi deviation (the original restarts at
    ``init``). ``fixed=True`` keeps ``tau = init`` forever (Cityscapes:
    ``init=0.0, fixed=True``, spec §6).

    Since ``Δ ∈ [1/K, 1]``, ``tau`` stays in ``[min(init, 1/K),
    max(init, 1)]``. :class:`~mmsemi.engine.hooks.DynamicThresholdHook`
    logs ``tau`` each iteration; it does not update it.

    Args:
        init (float): Initial ``tau``. Defaults to 0.85.
        momentum (float): ``m`` in [0, 1]. Defaults to 0.999.
        fixed (bool): Never update. Defaults to False.
    """

    def __init__(self,
                 init: float = 0.85,
                 momentum: float = 0.999,
                 fixed: bool = False) -> None:
        super().__init__()
        if not 0.0 <= momentum <= 1.0:
            raise ValueError('DynamicThreshold: momentum must lie in [0, 1]; '
                             f'got {momentum}')
        self.momentum = momentum
        self.fixed = fixed
        self.register_buffer('tau', torch.tensor(float(init)))

    def extra_repr(self) -> str:
        return (f'tau={float(self.tau):.4f}, momentum={self.momentum}, '
                f'fixed={self.fixed}')

    @staticmethod
    def class_max_confidence(logits: Tensor,
                             valid: Optional[Tensor] = None) -> Tensor:
        """Local per-class maximum confidence, ``(K,)`` float32.

        ``-1`` marks classes with no valid pixel predicted as that class.
        """
        if logits.dim() != 4:
            raise ValueError('DynamicThreshold: logits must have shape (N, '
                             f'K, H, W); got {tuple(logits.shape)}')
        num_classes = logits.shape[1]
        logits = logits.detach()
        conf = class_probabilities(logits).max(dim=1)[0]  # (N, H, W)
        cls = logits.argmax(dim=1)
        if valid is not None:
            if tuple(valid.shape) != tuple(conf.shape):
                raise ValueError(
                    'DynamicThreshold: valid must have shape (N, H, W) = '
                    f'{tuple(conf.shape)}; got {tuple(valid.shape)}')
            # -1 (the empty-class value) on invalid pixels instead of a
            # boolean selection, whose data-dependent size syncs the host.
            conf = torch.where(valid.bool(), conf, -1.0)
        class_max = conf.new_full((num_classes, ), -1.0)
        return class_max.scatter_reduce(
            0, cls.flatten(), conf.flatten(), reduce='amax',
            include_self=True)

    @torch.no_grad()
    def update(self, logits: Tensor, valid: Optional[Tensor] = None
               ) -> Tensor:
        """Update ``tau`` from this rank's weak logits (collective call).

        Every rank must call it in the same iteration (it all-gathers when
        the default process group has more than one rank).

        Args:
            logits (Tensor): ``(N, K, H, W)`` weak unlabeled logits.
            valid (Tensor, optional): ``(N, H, W)`` bool, False on padding
                (CorrMatch uses the CutMix-ed ignore map here, issue #23).

        Returns:
            Tensor: The updated ``tau`` (the buffer itself).
        """
        if self.fixed:
            return self.tau
        class_max = self.class_max_confidence(logits, valid)
        if dist.get_world_size() > 1:
            gathered = dist.all_gather(class_max)
            class_max = torch.stack(
                [t.to(class_max.device) for t in gathered]).amax(dim=0)
        present = class_max >= 0
        count = present.sum()
        delta = torch.where(present, class_max, 0.0).sum() / count.clamp(
            min=1)
        new = self.momentum * self.tau + (1.0 - self.momentum) * delta.to(
            self.tau.dtype)
        # No host sync: keep tau when no class is present anywhere.
        self.tau.copy_(torch.where(count > 0, new, self.tau))
        return self.tau

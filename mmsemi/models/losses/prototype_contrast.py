"""Prototype contrastive loss of CSS (ReCo/PRCL lineage) with EMA class
prototypes kept as buffers."""
import math
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine import dist
from torch import Tensor

from mmseg.registry import MODELS
from ..utils.counting import bin_counts
from ..utils.precision import float32_compute

TILT_MODES = ('sharp', 'official')


def max_indicator(num_classes: int, temperature: float) -> float:
    """Largest value ``softmax_c(cos / temperature)`` can take: one cosine
    at 1, the ``C - 1`` others at -1."""
    top = math.exp(1.0 / temperature)
    return top / (top + (num_classes - 1) * math.exp(-1.0 / temperature))


@float32_compute
def prototype_similarity(rep: Tensor, prototypes: Tensor) -> Tensor:
    """Cosine similarity ``(N, C, h, w)`` of embeddings ``(N, D, h, w)``
    with prototypes ``(C, D)``; a zero prototype gives 0."""
    return torch.einsum('ndhw,cd->nchw', F.normalize(rep, dim=1),
                        F.normalize(prototypes, dim=1))


class _GatherDot(torch.autograd.Function):
    """``out[a, m] = anchors[a] . bank[index[a, m]]`` without keeping the
    gathered ``(A, M, D)`` negatives: forward and backward run over chunks
    of anchors and only ``anchors``, ``bank`` and ``index`` are saved.
    ``bank`` is a detached constant (no gradient)."""

    @staticmethod
    def forward(ctx, anchors: Tensor, bank: Tensor, index: Tensor,
                chunk: int) -> Tensor:
        ctx.save_for_backward(bank, index)
        ctx.chunk = chunk
        out = anchors.new_empty(index.shape)
        for start in range(0, index.shape[0], chunk):
            sl = slice(start, start + chunk)
            out[sl] = torch.einsum('ad,amd->am', anchors[sl],
                                   bank[index[sl]])
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        bank, index = ctx.saved_tensors
        grad_anchors = grad.new_empty(index.shape[0], bank.shape[1])
        for start in range(0, index.shape[0], ctx.chunk):
            sl = slice(start, start + ctx.chunk)
            grad_anchors[sl] = torch.einsum('am,amd->ad', grad[sl],
                                            bank[index[sl]])
        return grad_anchors, None, None, None


def gather_dot(anchors: Tensor, bank: Tensor, index: Tensor,
               chunk: int = 64) -> Tensor:
    """Dot products ``(A, M)`` of anchors ``(A, D)`` with the bank rows
    ``index`` ``(A, M)`` of a constant bank ``(B, D)``."""
    return _GatherDot.apply(anchors, bank.detach(), index, chunk)


@MODELS.register_module()
class PrototypeContrastLoss(nn.Module):
    r"""Pixel-to-prototype contrastive loss with EMA class prototypes.

    Prototypes ``P`` ``(C, D)`` are an EMA of per-class mean *raw*
    embeddings of the valid pixels (synchronised over ranks): a class seen
    for the first time is set to its mean, later
    :math:`P_c \leftarrow m P_c + (1 - m)\,\bar z_c`. One call:

    1. indicator :math:`q_i = \mathrm{softmax}_c(\cos(z_i, P_c)/\tau_{ind})`
       with the *previous* prototypes (no gradient);
    2. prototype update with the valid pixels;
    3. for every class :math:`c \in K` (classes with a valid pixel here),
       ``num_anchors`` anchors drawn with replacement from the hard pixels
       :math:`H_c = \{i \in V_c: q_{i,c} < \delta_s\}` (the "tilt");
    4. per anchor ``num_negatives`` negatives: class
       :math:`j \sim \mathrm{softmax}_{j \in K \setminus c}
       (\cos(P_c, P_j)/\tau)`, pixel uniform in :math:`V_j`;
    5. :math:`\ell(a) = -\log \frac{e^{\cos(a, P_c)/\tau}}
       {e^{\cos(a, P_c)/\tau} + \sum_m e^{\cos(a, n_m)/\tau}}`,
       :math:`L = \frac{1}{|K|} \sum_{c \in K, H_c \neq \emptyset}
       \mathrm{mean}_q \ell(a_{c,q})`; 0 (graph-connected) when
       :math:`|K| \le 1`.

    Tilt: with ``tilt='official'`` the hard-anchor indicator uses
    ``indicator_temperature`` (0.5 in the official scripts). Since
    :math:`q \le` :func:`max_indicator` (0.732 for 21 classes, 0.752 for
    19) the official :math:`\delta_s = 0.8` then keeps every pixel: the
    tilt is inert. ``tilt='sharp'`` (default) computes the hard-anchor
    indicator at ``tilt_temperature`` (0.1, the constructor default of the
    official cross model), where the bound is 1.0 and realistic geometry
    (a pixel on its prototype, the others spread) reaches > 0.99, so
    :math:`\delta_s = 0.8` keeps the ambiguous pixels only.

    Gradients flow into the anchors only (prototypes, negatives and the
    indicator are detached). Negatives are dotted with the anchors chunk by
    chunk (:func:`gather_dot`); nothing ``(Q, M, D)`` is kept for backward.

    Args:
        num_classes (int): C.
        feat_dim (int): D.
        num_anchors (int): Q anchors per class. Defaults to 256.
        num_negatives (int): M negatives per anchor. Defaults to 512.
        temperature (float): :math:`\tau` of the loss and of the negative
            class distribution. Defaults to 0.5.
        indicator_temperature (float): :math:`\tau_{ind}` of the official
            indicator. Defaults to 0.5.
        hard_threshold (float): :math:`\delta_s`. Defaults to 0.8.
        tilt (str): 'sharp' or 'official' (inert with the defaults).
            Defaults to 'sharp'.
        tilt_temperature (float): Indicator temperature of the 'sharp'
            tilt. Defaults to 0.1.
        momentum (float): Prototype EMA decay. Defaults to 0.99.
        loss_weight (float): Defaults to 1.0.
        loss_name (str): Defaults to 'loss_contrast'.

    Shapes: ``rep`` ``(N, D, h, w)``; ``labels`` ``(N, h, w)`` long;
    ``valid`` ``(N, h, w)`` bool.
    """

    def __init__(self,
                 num_classes: int,
                 feat_dim: int,
                 num_anchors: int = 256,
                 num_negatives: int = 512,
                 temperature: float = 0.5,
                 indicator_temperature: float = 0.5,
                 hard_threshold: float = 0.8,
                 tilt: str = 'sharp',
                 tilt_temperature: float = 0.1,
                 momentum: float = 0.99,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_contrast') -> None:
        super().__init__()
        if tilt not in TILT_MODES:
            raise ValueError(f'tilt must be one of {TILT_MODES}; got '
                             f'{tilt!r}')
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f'momentum must lie in [0, 1); got {momentum}')
        self.num_classes = num_classes
        self.feat_dim = feat_dim
        self.num_anchors = num_anchors
        self.num_negatives = num_negatives
        self.temperature = temperature
        self.indicator_temperature = indicator_temperature
        self.hard_threshold = hard_threshold
        self.tilt = tilt
        self.tilt_temperature = tilt_temperature
        self.momentum = momentum
        self.loss_weight = loss_weight
        self._loss_name = loss_name
        self.register_buffer('prototypes', torch.zeros(num_classes, feat_dim))
        self.register_buffer('prototype_initialized',
                             torch.zeros(num_classes, dtype=torch.bool))
        #: statistics of the latest call (logged by the model)
        self.last_stats: Dict[str, Tensor] = {}

    @property
    def loss_name(self) -> str:
        return self._loss_name

    @property
    def hard_indicator_temperature(self) -> float:
        """Temperature of the indicator the tilt compares with
        ``hard_threshold``."""
        if self.tilt == 'official':
            return self.indicator_temperature
        return self.tilt_temperature

    # ------------------------------------------------------------------
    @torch.no_grad()
    @float32_compute
    def indicator(self, rep: Tensor,
                  temperature: Optional[float] = None) -> Tensor:
        """``softmax_c(cos(rep, P_c) / tau)`` ``(N, C, h, w)``; ``tau``
        defaults to ``indicator_temperature``."""
        tau = self.indicator_temperature if temperature is None \
            else temperature
        sim = prototype_similarity(rep.detach(), self.prototypes)
        return (sim / tau).softmax(dim=1)

    @torch.no_grad()
    def class_sums(self, emb: Tensor,
                   labels: Tensor) -> Tuple[Tensor, Tensor]:
        """Per-class sums ``(C, D)`` and counts ``(C,)`` of embeddings
        ``(P, D)`` with labels ``(P,)`` in ``[0, C]``, summed over all
        ranks; pixels labelled ``C`` are left out (a spare row collects
        them, so no boolean selection syncs the host)."""
        stats = emb.new_zeros(self.num_classes + 1, self.feat_dim + 1)
        stats[:, :-1].index_add_(0, labels, emb)
        stats[:, -1].index_add_(0, labels, emb.new_ones(labels.shape))
        stats = stats[:self.num_classes]
        if dist.get_world_size() > 1:
            dist.all_reduce(stats, op='sum')
        return stats[:, :-1], stats[:, -1]

    @torch.no_grad()
    @float32_compute
    def update_prototypes(self, emb: Tensor, labels: Tensor) -> None:
        """EMA update with the embeddings ``(P, D)`` and labels ``(P,)``
        in ``[0, C]`` (``C``: not used); identical on all ranks."""
        sums, counts = self.class_sums(emb, labels)
        seen = counts > 0
        mean = sums / counts.clamp(min=1)[:, None]
        ema = self.momentum * self.prototypes + (1 - self.momentum) * mean
        new = torch.where(self.prototype_initialized[:, None], ema, mean)
        self.prototypes.copy_(torch.where(seen[:, None], new,
                                          self.prototypes))
        self.prototype_initialized |= seen

    # ------------------------------------------------------------------
    def _uniform_in_class(self, cls: Tensor, offsets: Tensor,
                          counts: Tensor) -> Tensor:
        """A uniform index into the class-sorted pixels of class ``cls``
        (any shape); classes without pixels give index -1."""
        u = torch.rand(cls.shape, device=cls.device)
        pick = offsets[cls] + (u * counts[cls]).long().clamp(
            max=(counts[cls] - 1).clamp(min=0))
        return torch.where(counts[cls] > 0, pick, torch.full_like(pick, -1))

    def _check(self, rep: Tensor, labels: Tensor, valid: Tensor) -> None:
        num, dim, height, width = rep.shape
        if dim != self.feat_dim:
            raise ValueError(f'rep has {dim} channels; the loss was built '
                             f'with feat_dim={self.feat_dim}')
        if labels.shape != (num, height, width) or \
                valid.shape != labels.shape:
            raise ValueError(
                'labels and valid must be (N, h, w) = '
                f'{(num, height, width)}; got {tuple(labels.shape)} and '
                f'{tuple(valid.shape)}')

    def sample(self, labels: Tensor, valid: Tensor,
               hard: Tensor) -> Dict[str, Tensor]:
        """Anchor and negative pixel indices (flattened ``N * h * w``).

        Args:
            labels (Tensor): ``(P,)`` class per pixel (any value where not
                valid).
            valid (Tensor): ``(P,)`` bool, pixels of the class sets V_c.
            hard (Tensor): ``(P,)`` bool, hard pixels (subset of valid).

        Returns:
            dict: ``anchors`` ``(C, Q)`` and ``negatives`` ``(C, Q, M)``
            pixel indices (``-1``: no pixel), ``present`` ``(C,)`` (class
            in K) and ``use`` ``(C,)`` (class in K with a hard pixel).
        """
        cnum, q, m = self.num_classes, self.num_anchors, self.num_negatives
        dev = labels.device
        # pixels sorted by class: offsets and counts of each class block
        key = torch.where(valid, labels, torch.full_like(labels, cnum))
        order = key.argsort(stable=True)
        counts = bin_counts(key, cnum + 1)[:cnum]
        offsets = torch.cumsum(counts, 0) - counts
        hard_key = torch.where(hard, labels, torch.full_like(labels, cnum))
        hard_order = hard_key.argsort(stable=True)
        hard_counts = bin_counts(hard_key, cnum + 1)[:cnum]
        hard_offsets = torch.cumsum(hard_counts, 0) - hard_counts
        present = counts > 0

        # anchors: Q per class from its hard pixels, with replacement
        classes = torch.arange(cnum, device=dev)[:, None].expand(cnum, q)
        pos = self._uniform_in_class(classes, hard_offsets, hard_counts)
        anchors = torch.where(pos >= 0, hard_order[pos.clamp(min=0)], pos)

        # negatives: class ~ softmax(cos(P_c, P_j) / tau) over K \ {c},
        # pixel uniform in V_j
        protos = F.normalize(self.prototypes, dim=1)
        logits = protos @ protos.t() / self.temperature
        allowed = present[None, :] & ~torch.eye(cnum, dtype=torch.bool,
                                                device=dev)
        logits = logits.masked_fill(~allowed, float('-inf'))
        probs = logits.softmax(dim=1)
        # Rows whose prototypes went NaN/Inf in a diverging run sample the
        # allowed classes uniformly (rows without another class: any
        # class, giving "no pixel"): torch.multinomial would raise (a
        # device-side assert on CUDA) and checking here would cost a host
        # sync. Non-finite prototypes make the loss non-finite, so
        # FiniteLossHook stops training after this step and names them.
        has_other = allowed.any(dim=1, keepdim=True)
        uniform = torch.where(has_other, allowed.to(probs.dtype),
                              torch.ones_like(probs))
        usable = has_other & torch.isfinite(probs).all(dim=1, keepdim=True)
        probs = torch.where(usable, probs, uniform)
        neg_cls = torch.multinomial(probs, q * m, replacement=True)
        pos = self._uniform_in_class(neg_cls, offsets, counts)
        negatives = torch.where(pos >= 0, order[pos.clamp(min=0)], pos)
        return dict(anchors=anchors, negatives=negatives.view(cnum, q, m),
                    present=present, use=present & (hard_counts > 0))

    def loss_from_indices(self, flat: Tensor, anchors: Tensor,
                          negatives: Tensor, present: Tensor,
                          use: Tensor) -> Tensor:
        """The InfoNCE value for sampled indices (see :meth:`sample`).

        ``flat`` ``(P, D)`` raw embeddings; only anchors get gradients.
        """
        cnum, q = anchors.shape
        dim = flat.shape[1]
        protos = F.normalize(self.prototypes, dim=1)
        anchor = F.normalize(flat[anchors.clamp(min=0)], dim=-1)  # (C, Q, D)
        # the bank's extra zero row stands for "no pixel" (index -1)
        bank = F.normalize(flat.detach(), dim=1)
        bank = torch.cat([bank, bank.new_zeros(1, dim)])
        pos = (anchor * protos[:, None, :]).sum(-1)  # (C, Q)
        neg = gather_dot(anchor.reshape(cnum * q, dim), bank,
                         negatives.reshape(cnum * q, -1)).reshape(
                             cnum, q, -1)
        logits = torch.cat([pos[..., None], neg], dim=-1) / self.temperature
        per_anchor = torch.logsumexp(logits, dim=-1) - logits[..., 0]
        per_class = per_anchor.mean(dim=1) * use.to(per_anchor.dtype)
        num_present = present.sum()
        loss = per_class.sum() / num_present.clamp(min=1)
        return torch.where(num_present > 1, loss, torch.zeros_like(loss))

    @float32_compute
    def forward(self, rep: Tensor, labels: Tensor, valid: Tensor) -> Tensor:
        """Loss of embeddings ``rep`` ``(N, D, h, w)`` with class
        ``labels`` ``(N, h, w)`` on the ``valid`` ``(N, h, w)`` pixels;
        updates the prototypes. Computed in float32 (the prototypes are
        float32 EMAs)."""
        self._check(rep, labels, valid)
        cnum = self.num_classes
        # 1. indicator with the previous prototypes
        ind = self.indicator(rep, self.hard_indicator_temperature)
        flat = rep.permute(0, 2, 3, 1).reshape(-1, rep.shape[1])
        lab = labels.reshape(-1).long()
        valid = valid.reshape(-1) & (lab >= 0) & (lab < cnum)
        lab = torch.where(valid, lab, torch.zeros_like(lab))
        own = ind.permute(0, 2, 3, 1).reshape(-1, cnum).gather(
            1, lab[:, None])[:, 0]
        hard = valid & (own < self.hard_threshold)
        # 2. prototype update (global)
        self.update_prototypes(flat.detach(),
                               torch.where(valid, lab, cnum))
        # 3.-5. sampling and InfoNCE
        idx = self.sample(lab, valid, hard)
        loss = self.loss_from_indices(flat, **idx)
        self.last_stats = dict(
            num_classes_present=idx['present'].sum().float(),
            hard_ratio=hard.sum() / valid.sum().clamp(min=1),
            prototypes_initialized=self.prototype_initialized.sum().float(),
            # a checksum of the (rank-identical) prototypes
            prototype_norm=self.prototypes.norm(dim=1).sum())
        # connected to the whole embedding map (DDP without unused params)
        return self.loss_weight * loss + 0.0 * rep.sum()

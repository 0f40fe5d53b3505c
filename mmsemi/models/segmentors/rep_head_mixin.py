"""A representation head on the student and the EMA teacher, reading
decoder features of any decode head (U2PL, CSS)."""
import copy
from typing import List, NamedTuple, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from mmseg.registry import MODELS

from ..utils.decode_head_streams import (ExtraOutputs, decode_with_features,
                                         decoder_feature_channels)


class StudentOutputs(NamedTuple):
    """One student pass with its representation head.

    Attributes:
        feats (list[Tensor]): Backbone outputs.
        logits (Tensor): Decoder logits ``(N, K, h, w)``.
        rep (Tensor): Representations ``(N, D, h', w')``.
        extra_outputs (ExtraOutputs): The head's other outputs (heads
            that return several), for the supervised loss.
    """
    feats: List[Tensor]
    logits: Tensor
    rep: Tensor
    extra_outputs: ExtraOutputs


class RepHeadMixin:
    """Builds ``rep_head`` on ``self.student`` and ``self.teacher`` (so
    :class:`EMATeacherHook` averages it with the rest of the teacher) and
    runs segmentor + representation head in one pass.

    The head reads :func:`decode_with_features` at :attr:`rep_feature_point`
    (named points of heads that expose them; the classifier input of every
    other head).
    """

    #: Preferred decoder feature points, see :func:`decode_with_features`.
    rep_feature_point: Sequence[str] = ()

    def build_rep_heads(self, rep_head: dict) -> dict:
        """Attach ``rep_head`` to student and teacher; returns the config
        used (``in_channels`` and ``norm_cfg`` filled from the head)."""
        head = self.student.decode_head
        rep_cfg = dict(copy.deepcopy(rep_head))
        rep_cfg.setdefault(
            'in_channels',
            decoder_feature_channels(head, self.rep_feature_point))
        head_norm = getattr(head, 'norm_cfg', None)
        if head_norm is not None:
            rep_cfg.setdefault('norm_cfg', copy.deepcopy(head_norm))
        # The same head on both segmentors so that the EMA pairs them.
        self.student.rep_head = MODELS.build(copy.deepcopy(rep_cfg))
        self.teacher.rep_head = MODELS.build(copy.deepcopy(rep_cfg))
        self.teacher.requires_grad_(False)
        return rep_cfg

    def build_contrast_loss(self, rep_cfg: dict, **fill) -> nn.Module:
        """The contrastive loss ``semi_train_cfg.contrast``, built by
        :meth:`build_part` (weighted by ``contrast_weight``), with
        ``num_classes`` and ``feat_dim`` (the representation size of
        ``rep_cfg``) filled in unless given."""
        return self.build_part('contrast', 'contrast_weight',
                               num_classes=self.num_classes,
                               feat_dim=rep_cfg.get('out_channels', 256),
                               **fill)

    def student_forward(self, x: Tensor) -> StudentOutputs:
        """Backbone features, logits, representations and extra head
        outputs of the student."""
        feats = self.student.extract_feat(x)
        dec, logits, extra = decode_with_features(
            self.student.decode_head, feats, self.rep_feature_point,
            return_extra=True)
        return StudentOutputs(feats, logits, self.student.rep_head(dec),
                              extra)

    @torch.no_grad()
    def teacher_forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Logits and representations of the teacher (in its current
        mode), without gradients."""
        dec, logits = decode_with_features(self.teacher.decode_head,
                                           self.teacher.extract_feat(x),
                                           self.rep_feature_point)
        return logits, self.teacher.rep_head(dec)

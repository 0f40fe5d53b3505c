"""RankMatch: orthogonal agents and rank-aware correlation consistency
(Mai et al., CVPR 2024)."""
from typing import Dict

import torch
from torch import Tensor

from mmseg.registry import MODELS

from ..utils.decode_head_streams import (decode_with_features,
                                         decode_with_perturbation)
from ..utils.mixing import mix_features
from .semi_base import SampleList
from .unimatch import UniMatch


@MODELS.register_module()
class RankMatch(UniMatch):
    """RankMatch on top of any mmseg encoder-decoder: UniMatch plus a
    rank-aware correlation consistency between the decoder features of the
    weak (teacher) and CutMix-ed strong (student) views. The teacher is the
    student itself; inference is the plain student.

    Decoder features are read at ``feature_point`` (a ``prefer`` tuple of
    :func:`decode_with_features`): ``('aspp', )`` gives the ASPP output
    before the fusion with the low-level features on DeepLabV3+ heads
    (:class:`SemiDeepLabV3PlusHead`, ``DepthwiseSeparableASPPHead``,
    ``ASPPHead``), as in the official code; every other head gives the
    input of its classifier ``cls_seg``.

    One training step, as in the official code (spec §3):

    1. Eval mode, no gradients: predict the weak view of every image's
       CutMix partner (image ``i - 1`` of the batch); keep its decoder
       features.
    2. Train mode: labeled + weak images with UniMatch's feature
       perturbation; keep the clean weak decoder features.
    3. CutMix each strong view with its partner's, forward all strong views
       together, keep their decoder features.
       UniMatch's losses (supervised, FP, strong pseudo-label CE) come
       from steps 2 and 3.
    4. For each strong view, the teacher features are the detached weak
       features with the partner's pasted inside the view's CutMix box
       (:func:`mix_features`), and the rank loss compares them with the
       strong view's features (:class:`RankAwareKLLoss`: agents selected
       on the teacher, the same positions for the student).

    Loss (official weights)::

        L = UniMatch's loss + rank_weight * mean_v L_rank(v)

    With the default ``rank_weight=0.1`` this is the code's
    ``(L_x + 0.25 L_s1 + 0.25 L_s2 + 0.5 L_fp) / 2 + 0.1 (L_c1 + L_c2) / 2``.

    ``semi_train_cfg`` keys: UniMatch's (:attr:`UniMatch.default_train_cfg`)
    plus ``rank_loss`` (a :class:`RankAwareKLLoss` config: ``num_agents``,
    ``topk``, ``reduction``, ``log_space``, ``eps``; the defaults are the
    official computation), its weight ``rank_weight`` and
    ``feature_point``.
    """

    default_train_cfg: Dict = dict(
        UniMatch.default_train_cfg,
        rank_loss=dict(
            type='RankAwareKLLoss',
            num_agents=128,
            topk=4,
            reduction='official',
            # the official probability-space Plackett-Luce with its eps
            log_space=False,
            eps=1e-10),
        rank_weight=0.1,
        feature_point=('aspp', ))

    deprecated_train_cfg_keys = dict(
        UniMatch.deprecated_train_cfg_keys,
        **{'rank_loss.loss_weight': 'rank_weight'})

    def __init__(self, *args, **kwargs) -> None:
        # Arguments: those of UniMatch (segmentor, semi_train_cfg, ...).
        super().__init__(*args, **kwargs)
        self.rank_loss = self.build_part('rank_loss', 'rank_weight')

    def loss(self, inputs: Dict[str, Tensor],
             data_samples: Dict[str, SampleList]) -> dict:
        cfg = self.semi_train_cfg
        point = tuple(cfg['feature_point'])
        self.check_branches(inputs,
                            ['sup', 'unsup_weak', *cfg['strong_branches']])
        x_l, x_w = inputs['sup'], inputs['unsup_weak']
        num_l = x_l.shape[0]
        valid = self.valid_mask(data_samples['unsup_weak'])
        head = self.student.decode_head

        # 1. eval-mode CutMix partners, with their decoder features
        partner = self.partner_predictions(x_w, valid, point)

        # 2. labeled + weak with feature perturbation (clean weak decoder
        # features kept); supervised and FP losses, weak pseudo-labels
        feats = self.student.extract_feat(torch.cat([x_l, x_w]))
        logits, logits_fp, dec, extra = decode_with_perturbation(
            head, feats, dropout=cfg['fp_dropout'], return_features=True,
            prefer=point, return_extra=True)
        losses, pseudo = self._labeled_and_weak_losses(
            inputs, data_samples, feats, logits, logits_fp, valid, extra)

        # 3. CutMix-ed strong views in one forward: pseudo-label CE
        boxes, images, targets = self._mix_strong_views(inputs, pseudo,
                                                        partner, valid)
        dec_s, logits_s = decode_with_features(
            head, self.student.extract_feat(torch.cat(images)), point)
        losses.update(self._strong_ce_losses(logits_s, targets))

        # 4. rank-aware correlation consistency on each strong view
        dec_w = dec[num_l:].detach()
        for idx, (box, dec_view) in enumerate(
                zip(boxes, dec_s.chunk(len(boxes))), start=1):
            teacher = mix_features(box, dec_w, partner.features)
            losses[f'unsup.{self.rank_loss.loss_name}{idx}'] = \
                cfg['rank_weight'] * self.rank_loss(teacher, dec_view) / \
                len(boxes)
        return losses

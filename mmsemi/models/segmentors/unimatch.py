"""UniMatch: weak-to-strong consistency with dual strong views and
feature perturbation (Yang et al., CVPR 2023)."""
from typing import Dict, List, NamedTuple, Sequence, Tuple

import torch
from torch import Tensor

from mmseg.registry import MODELS

from ..losses.masked_losses import masked_cross_entropy
from ..utils.decode_head_streams import (ExtraOutputs,
                                         decode_with_perturbation, extra_rows,
                                         feature_rows)
from ..utils.mixing import mix
from ..utils.pseudo_label import PseudoLabels, pseudo_labels_from_logits
from .semi_base import Partner, SampleList, SemiBaseSegmentor


class StrongTarget(NamedTuple):
    """Target of one CutMix-ed strong view, all ``(N, H, W)``: mixed
    pseudo-labels (long), confident-and-valid mask and mixed valid mask
    (bool)."""
    labels: Tensor
    mask: Tensor
    valid: Tensor


@MODELS.register_module()
class UniMatch(SemiBaseSegmentor):
    """UniMatch on top of any mmseg encoder-decoder (any
    ``BaseDecodeHead``; :class:`SemiDeepLabV3PlusHead` is the official
    architecture).

    One training step, as in the official code:

    1. In eval mode and without gradients, predict the weak view of every
       unlabeled image; these predictions label the CutMix patches. The
       patch of image ``i`` comes from image ``i - 1`` (a cyclic shift of the
       batch: its
       strong view, its pseudo-label, confidence and valid mask).
    2. In train mode, run labeled and weak unlabeled images together; the
       decoder also decodes channel-dropped features (``fp_dropout``) of
       the same batch (feature perturbation: ``Dropout2d(fp_dropout)`` on
       every backbone feature the head consumes, see
       :func:`decode_with_perturbation`).
    3. Run the CutMix-ed strong views together in train mode.
    4. Pseudo-labels are the argmax of the weak prediction, kept where the
       confidence reaches ``conf_thresh`` on non-padded pixels.

    Loss (official weights)::

        L = sup_weight * L_x
            + strong_weight * sum_j CE(s_j, mix_j(y_w)) * mask / #valid_j
            + fp_weight * CE(fp, y_w) * mask / #valid

    ``sup_weight=0.5, strong_weight=0.125, fp_weight=0.25`` is UniMatch's
    ``(L_x + 0.25 L_s1 + 0.25 L_s2 + 0.5 L_fp) / 2``. The unsupervised terms
    are normalised by the number of non-padded pixels (``normalize``).

    ``semi_train_cfg`` keys (defaults in :attr:`default_train_cfg`):
    ``conf_thresh``, the three weights, ``fp_dropout``, ``cutmix_prob``,
    ``strong_branches`` (one or more strong views) and ``normalize``.
    """

    default_train_cfg: Dict = dict(
        SemiBaseSegmentor.default_train_cfg,
        conf_thresh=0.95,
        sup_weight=0.5,
        strong_weight=0.125,
        fp_weight=0.25,
        fp_dropout=0.5,
        cutmix_prob=0.5,
        strong_branches=('unsup_strong1', 'unsup_strong2'),
        normalize='valid')

    def train_forward_batches(self, num_labeled: int,
                              num_unlabeled: int) -> Dict[str, int]:
        """Labeled + weak images in one pass, the two strong views in
        another."""
        return dict(student=min(num_labeled + num_unlabeled,
                                2 * num_unlabeled))

    def loss(self, inputs: Dict[str, Tensor],
             data_samples: Dict[str, SampleList]) -> dict:
        cfg = self.semi_train_cfg
        self.check_branches(inputs,
                            ['sup', 'unsup_weak', *cfg['strong_branches']])
        x_l, x_w = inputs['sup'], inputs['unsup_weak']
        valid = self.valid_mask(data_samples['unsup_weak'])

        partner = self.partner_predictions(x_w, valid)

        feats = self.student.extract_feat(torch.cat([x_l, x_w]))
        logits, logits_fp, extra = decode_with_perturbation(
            self.student.decode_head, feats, dropout=cfg['fp_dropout'],
            return_extra=True)
        losses, pseudo = self._labeled_and_weak_losses(
            inputs, data_samples, feats, logits, logits_fp, valid, extra)
        losses.update(self._strong_losses(inputs, pseudo, partner, valid))
        return losses

    def _labeled_and_weak_losses(self, inputs: Dict[str, Tensor],
                                 data_samples: Dict[str, SampleList],
                                 feats: Sequence[Tensor], logits: Tensor,
                                 logits_fp: Tensor, valid: Tensor,
                                 extra_outputs: ExtraOutputs = None
                                 ) -> Tuple[dict, PseudoLabels]:
        """Supervised and FP losses of the labeled + weak forward, the weak
        pseudo-labels (recorded for visualisation) and their diagnostics.

        Args:
            feats: backbone outputs of ``cat(x_l, x_w)``.
            logits, logits_fp: clean and perturbed decoder logits of that
                batch, ``(N_l + N_u, K, h, w)``.
            valid: non-padded pixels of the weak views ``(N_u, H, W)``.
            extra_outputs: the head's other outputs of that batch (heads
                that return several, see ``split_head_output``); they enter
                the supervised loss only.

        Returns:
            tuple: the loss dict and the weak pseudo-labels.
        """
        cfg = self.semi_train_cfg
        num_l = inputs['sup'].shape[0]
        x_w = inputs['unsup_weak']
        size = x_w.shape[-2:]
        pseudo = pseudo_labels_from_logits(
            self.upsample_logits(logits[num_l:].detach(), size),
            cfg['conf_thresh'], valid)
        self.record_pseudo_labels(x_w, pseudo, cfg['conf_thresh'])

        losses = self.supervised_loss(
            logits[:num_l], feature_rows(feats, slice(None, num_l)),
            data_samples['sup'],
            extra_rows(extra_outputs, slice(None, num_l)))
        losses = self.add_prefix(self.scale_losses(losses, cfg['sup_weight']),
                                 'sup')
        losses['unsup.loss_fp'] = cfg['fp_weight'] * masked_cross_entropy(
            self.upsample_logits(logits_fp[num_l:], size), pseudo.labels,
            pseudo.mask, normalize=cfg['normalize'], valid=valid)

        hidden_gt = self.stack_seg(data_samples['unsup_weak'],
                                   'gt_unsup_sem_seg')
        losses.update(self.add_prefix(
            self.pseudo_label_diagnostics(pseudo, valid, hidden_gt,
                                          cfg['conf_thresh']), 'unsup'))
        return losses, pseudo

    def _strong_losses(self, inputs: Dict[str, Tensor], pseudo: PseudoLabels,
                       partner: Partner, valid: Tensor) -> dict:
        """CutMix each strong view with its partner's and supervise it with
        the equally mixed pseudo-labels."""
        _, images, targets = self._mix_strong_views(inputs, pseudo, partner,
                                                    valid)
        return self._strong_ce_losses(
            self.forward_logits(self.student, torch.cat(images)), targets)

    def _mix_strong_views(
            self, inputs: Dict[str, Tensor], pseudo: PseudoLabels,
            partner: Partner, valid: Tensor
    ) -> Tuple[List[Tensor], List[Tensor], List[StrongTarget]]:
        """CutMix each strong view with its partner's strong view.

        Returns:
            tuple: per strong branch, the CutMix box ``(N, H, W)`` bool, the
            mixed image ``(N, 3, H, W)`` and its target (equally mixed
            labels, confident-and-valid mask, mixed valid mask).
        """
        cfg = self.semi_train_cfg
        num_u, _, height, width = inputs['unsup_weak'].shape
        boxes, mixed_images, targets = [], [], []
        for branch in cfg['strong_branches']:
            box = self.cutmix_sampler(num_u, height, width,
                                      prob=cfg['cutmix_prob'],
                                      device=valid.device)
            strong = inputs[branch]
            image, labels, conf, mixed_valid = mix(
                box,
                [strong, pseudo.labels, pseudo.conf, valid],
                [strong.roll(1, dims=0), partner.labels, partner.conf,
                 partner.valid])
            boxes.append(box)
            mixed_images.append(image)
            mask = (conf >= cfg['conf_thresh']) & mixed_valid
            targets.append(StrongTarget(labels, mask, mixed_valid))
        return boxes, mixed_images, targets

    def _strong_ce_losses(self, logits: Tensor,
                          targets: Sequence[StrongTarget]) -> dict:
        """Masked CE of the strong views' logits (all views in one batch,
        ``(V * N, K, h, w)``) against their mixed targets."""
        cfg = self.semi_train_cfg
        return strong_view_losses(
            self.upsample_logits(logits, targets[0].labels.shape[-2:]),
            targets, cfg['strong_weight'], cfg['normalize'])


def strong_view_losses(logits: Tensor, targets: Sequence[StrongTarget],
                       weight: float, normalize: str) -> dict:
    """``unsup.loss_strong{v}``: ``weight`` times the masked CE of strong
    view ``v`` against its target.

    Args:
        logits (Tensor): Logits of all views stacked, ``(V * N, K, H, W)``
            at the targets' size.
        targets (Sequence[StrongTarget]): One per view, each ``(N, H, W)``.
        weight (float): Weight of each view's term.
        normalize (str): Denominator of :func:`masked_cross_entropy`.
    """
    return {
        f'unsup.loss_strong{idx}': weight * masked_cross_entropy(
            view_logits, target.labels, target.mask, normalize=normalize,
            valid=target.valid)
        for idx, (view_logits, target) in enumerate(
            zip(logits.chunk(len(targets)), targets), start=1)
    }

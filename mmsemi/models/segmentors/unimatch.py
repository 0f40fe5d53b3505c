"""UniMatch: weak-to-strong consistency with dual strong views and
feature perturbation (Yang et al., CVPR 2023)."""
from typing import Dict, List, Tuple

import torch
from torch import Tensor

from mmseg.registry import MODELS

from ..losses.masked_losses import masked_cross_entropy
from ..utils.decode_head_streams import decode_with_perturbation
from ..utils.mixing import cutmix_boxes, mix
from ..utils.pseudo_label import PseudoLabels, pseudo_labels_from_logits
from .semi_base import SampleList, SemiBaseSegmentor


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

    def loss(self, inputs: Dict[str, Tensor],
             data_samples: Dict[str, SampleList]) -> dict:
        cfg = self.semi_train_cfg
        self.check_branches(inputs,
                            ['sup', 'unsup_weak', *cfg['strong_branches']])
        x_l, x_w = inputs['sup'], inputs['unsup_weak']
        num_l, num_u = x_l.shape[0], x_w.shape[0]
        size = x_w.shape[-2:]
        weak_samples = data_samples['unsup_weak']
        valid = self.valid_mask(weak_samples)

        _, partner_pseudo, partner_valid = self._partner_predictions(
            x_w, valid, cfg['conf_thresh'])

        feats = self.student.extract_feat(torch.cat([x_l, x_w]))
        logits, logits_fp = decode_with_perturbation(
            self.student.decode_head, feats, dropout=cfg['fp_dropout'])
        logits_l, logits_w = logits.split([num_l, num_u])
        pseudo = pseudo_labels_from_logits(
            self.upsample_logits(logits_w.detach(), size), cfg['conf_thresh'],
            valid)
        self.record_pseudo_labels(x_w, pseudo, cfg['conf_thresh'])

        losses = self.supervised_loss(
            logits_l, [f[:num_l] for f in feats], data_samples['sup'])
        losses = self.add_prefix(self.scale_losses(losses, cfg['sup_weight']),
                                 'sup')
        losses['unsup.loss_fp'] = cfg['fp_weight'] * masked_cross_entropy(
            self.upsample_logits(logits_fp[num_l:], size), pseudo.labels,
            pseudo.mask, normalize=cfg['normalize'], valid=valid)
        losses.update(self._strong_losses(
            inputs, pseudo, (partner_pseudo, partner_valid), valid))

        hidden_gt = self.stack_seg(weak_samples, 'gt_unsup_sem_seg')
        losses.update(self.add_prefix(
            self.pseudo_label_diagnostics(pseudo, valid, hidden_gt,
                                          cfg['conf_thresh']), 'unsup'))
        return losses

    @torch.no_grad()
    def _partner_predictions(self, x_w: Tensor, valid: Tensor,
                             threshold: float
                             ) -> Tuple[Tensor, PseudoLabels, Tensor]:
        """Eval-mode prediction of each image's CutMix partner (the
        previous image of the batch, cyclically).

        Returns:
            tuple: the partner's logits ``(N, K, H, W)``, its pseudo-labels
            thresholded at ``threshold`` and its valid mask ``(N, H, W)``.
        """
        logits = self.eval_logits(self.student, x_w).roll(1, dims=0)
        partner_valid = valid.roll(1, dims=0)
        pseudo = pseudo_labels_from_logits(logits, threshold, partner_valid)
        return logits, pseudo, partner_valid

    def _strong_losses(self, inputs: Dict[str, Tensor], pseudo: PseudoLabels,
                       partner: Tuple[PseudoLabels, Tensor],
                       valid: Tensor) -> dict:
        """CutMix each strong view with its partner's and supervise it with
        the equally mixed pseudo-labels."""
        cfg = self.semi_train_cfg
        partner_pseudo, partner_valid = partner
        num_u, _, height, width = inputs['unsup_weak'].shape
        mixed_images: List[Tensor] = []
        targets = []
        for branch in cfg['strong_branches']:
            boxes = cutmix_boxes(num_u, height, width, prob=cfg['cutmix_prob'],
                                 device=valid.device)
            strong = inputs[branch]
            image, labels, conf, mixed_valid = mix(
                boxes,
                [strong, pseudo.labels, pseudo.conf, valid],
                [strong.roll(1, dims=0), partner_pseudo.labels,
                 partner_pseudo.conf, partner_valid])
            mixed_images.append(image)
            mask = (conf >= cfg['conf_thresh']) & mixed_valid
            targets.append((labels, mask, mixed_valid))
        logits = self.upsample_logits(
            self.student._forward(torch.cat(mixed_images)), (height, width))
        losses = {}
        for idx, (branch_logits, (labels, mask, mixed_valid)) in enumerate(
                zip(logits.chunk(len(targets)), targets), start=1):
            losses[f'unsup.loss_strong{idx}'] = cfg['strong_weight'] * \
                masked_cross_entropy(branch_logits, labels, mask,
                                     normalize=cfg['normalize'],
                                     valid=mixed_valid)
        return losses

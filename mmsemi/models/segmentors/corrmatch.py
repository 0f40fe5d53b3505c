"""CorrMatch: label propagation via correlation matching (Sun et al.,
CVPR 2024)."""
import copy
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

from mmseg.registry import MODELS
from mmseg.utils import OptConfigType, OptMultiConfig

from ..decode_heads.correlation_head import CorrelationHead
from ..losses.correlation_loss import CorrelationLoss
from ..losses.masked_losses import masked_cross_entropy, masked_kl_div
from ..utils.decode_head_streams import (decode_with_perturbation,
                                         extra_rows, feature_map,
                                         feature_rows, pixel_loss_by_feat,
                                         split_head_output)
from ..utils.dynamic_threshold import DynamicThreshold
from ..utils.mixing import cutmix_boxes, mix
from ..utils.pseudo_label import (class_probabilities,
                                  pseudo_labels_from_logits)
from ..utils.region_propagation import (correlation_shapes,
                                        propagate_regions,
                                        propagate_regions_reference,
                                        restrict_shapes, sample_shape_rows)
from ..utils.tiled_region_propagation import propagate_regions_tiled
from .semi_base import SampleList, SemiBaseSegmentor
from .unimatch import UniMatch

REGION_PROP_MODES = ('tiled', 'sequential', 'parallel', 'none')
KL_TARGETS = ('weak_unmixed', 'mixed')
THRESH_VALID = ('mixed', 'weak')


@MODELS.register_module()
class CorrMatch(UniMatch):
    """CorrMatch on top of any mmseg encoder-decoder (any
    ``BaseDecodeHead``; :class:`SemiDeepLabV3PlusHead` is the official
    architecture).

    A :class:`CorrelationHead` on the student's last backbone output
    (``c4``) gives a row-softmax pixel correlation map ``C``. It is used in
    training only: inference is the plain student.

    One training step, in the official code's order (spec §8):

    1. Eval mode, no gradients: predict the weak view of the batch; image
       ``i`` is CutMix-ed with image ``i - 1`` (cyclic shift, as in
       :class:`UniMatch`), whose strong view is pasted inside the box and
       whose eval-mode pseudo-label, confidence and valid map label the box.
    2. Train mode, labeled + weak unlabeled images together with UniMatch's
       feature perturbation (``fp_dropout`` on every backbone feature the
       head consumes: ``c1`` and ``c4`` for DeepLabV3+); the correlation
       head runs on the clean ``c4`` and propagates the detached clean
       logits, upsampled to the image first as in the official model, so
       any crop size gives the official values (pixel propagation).
    3. Train mode, the one CutMix-ed strong view: logits and propagated
       logits.
    4. The dynamic threshold ``tau`` (a :class:`DynamicThreshold` submodule,
       so it is checkpointed) is updated from the weak logits before it is
       used, with the mixed valid map as in the official code
       (``thresh_valid='mixed'``), or stays fixed (``fixed_thresh``).
    5. Region propagation: 128 rows of the weak images' ``C`` (shared by
       the batch) become binary shapes, restricted to outside the CutMix box
       and to valid pixels; shapes whose confident part is large enough
       (``r1 >= tau``) and pure enough (``r2 > tau``) paint their majority
       pseudo-class over the whole shape and join the mask.

    Loss (official effective weights, spec §7; sum of the weights is 1)::

        L = 0.25   CE(x_l, y_l)                    sup.decode.loss_*
          + 0.25   CE(z_l, y_l)                    sup_corr.decode.loss_*
          + 0.125  CE(s, Y~) * M~ / #valid_mix     unsup.loss_strong
          + 0.125  CE(fp, y_w) * M_w / #valid      unsup.loss_fp
          + 0.125  KL(p_w || p_s) * M_mix / #valid_mix   unsup.loss_kl
          + 0.0625 CE(z_s, Y~) * M~ / #valid_mix   unsup.loss_corr_strong
          + 0.0625 CE(z_w, y_w) * M_w / #valid     unsup.loss_corr_weak

    ``x_l``/``s``/``fp`` are main-head logits, ``z`` propagated logits,
    ``y_w``/``M_w`` the weak pseudo-labels and mask, ``Y~``/``M~`` the
    CutMix-ed labels and mask after region propagation and ``M_mix`` the
    CutMix-ed mask before it. Both supervised terms use the decode head's
    criterion (``loss_by_feat``: CE, or OHEM for Cityscapes configs); for
    heads with several outputs (DAHead, EncHead) ``L_x`` is their whole
    ``loss_by_feat`` and the propagated logits take the per-pixel
    criterion of their logits output.
    The KL target is the *un-mixed* weak prediction (official code;
    ``kl_target='mixed'`` pastes the partner's eval-mode probabilities,
    from the same eval-mode pass as its pseudo-labels, into the box).

    ``semi_train_cfg`` keys (defaults in :attr:`default_train_cfg`):

    - ``thresh_init``, ``thresh_momentum``: the dynamic threshold;
      ``fixed_thresh`` (float) replaces it by a constant (0.0 for
      Cityscapes, as in the paper);
    - ``thresh_valid``: 'mixed' (official, spec #23) or 'weak' valid map
      for the threshold update;
    - the seven weights ``sup_weight``, ``sup_corr_weight``,
      ``strong_weight``, ``fp_weight``, ``kl_weight``,
      ``corr_strong_weight``, ``corr_weak_weight``;
    - ``fp_dropout``, ``cutmix_prob``, ``strong_branches`` (exactly one
      strong view), ``normalize`` (denominator of the unlabeled terms);
    - ``corr_head``: :class:`CorrelationHead` kwargs; ``in_channels``
      (last entry of the decode head's ``in_channels``), ``corr_channels``
      (number of classes, as in the official code), ``norm_cfg`` (the
      decode head's) and ``align_corners`` default from the student;
      ``corr_in_index``: which backbone output feeds it (-1: the last;
      for another output ``in_channels`` is read from the decode head
      when the head uses that output, else it must be given);
    - ``num_shapes`` (128) and ``region_prop``: 'tiled' (default; the
      official sequential semantics computed on tiles of the feature grid
      by :func:`propagate_regions_tiled`, equal to the official loop on the
      CPU, for ``align_corners`` True and False), 'sequential' (the
      official loop on dense shapes, :func:`propagate_regions_reference`:
      ``N * 128`` Python steps with device synchronisations), 'parallel'
      (:func:`propagate_regions` on dense shapes: every histogram from the
      un-propagated labels, last accepted shape wins) or 'none' (pixel
      propagation only, paper Table 6);
    - ``kl_target``: 'weak_unmixed' (official) or 'mixed'.

    Args:
        segmentor (dict): Config of the wrapped mmseg segmentor.
        semi_train_cfg (dict, optional): See above.
        semi_test_cfg (dict, optional): ``predict_on`` ('student').
        corr_head (dict, optional): :class:`CorrelationHead` kwargs; when
            given it replaces ``semi_train_cfg.corr_head``.
        data_preprocessor (dict, optional): Multi-branch preprocessor.
        init_cfg (dict, optional): Initialisation config.
    """

    default_train_cfg: Dict = dict(
        SemiBaseSegmentor.default_train_cfg,
        thresh_init=0.85,
        thresh_momentum=0.999,
        fixed_thresh=None,
        thresh_valid='mixed',
        sup_weight=0.25,
        sup_corr_weight=0.25,
        strong_weight=0.125,
        fp_weight=0.125,
        kl_weight=0.125,
        corr_strong_weight=0.0625,
        corr_weak_weight=0.0625,
        fp_dropout=0.5,
        cutmix_prob=0.5,
        strong_branches=('unsup_strong1', ),
        normalize='valid',
        corr_head=dict(channels=256, dropout_ratio=0.1),
        corr_in_index=-1,
        num_shapes=128,
        region_prop='tiled',
        kl_target='weak_unmixed')

    def __init__(self,
                 segmentor: dict,
                 semi_train_cfg: OptConfigType = None,
                 semi_test_cfg: OptConfigType = None,
                 corr_head: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None,
                 **segmentor_options) -> None:
        # segmentor_options: pretrained/train_cfg, see SemiBaseSegmentor.
        super().__init__(
            segmentor=segmentor,
            semi_train_cfg=semi_train_cfg,
            semi_test_cfg=semi_test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg,
            **segmentor_options)
        cfg = self.semi_train_cfg
        self.check_choices(region_prop=REGION_PROP_MODES,
                           kl_target=KL_TARGETS, thresh_valid=THRESH_VALID)
        if len(cfg['strong_branches']) != 1:
            raise ValueError('CorrMatch uses exactly one strong view; got '
                             f"strong_branches={cfg['strong_branches']!r}")
        fixed = cfg['fixed_thresh'] is not None
        self.thresh = DynamicThreshold(
            init=cfg['fixed_thresh'] if fixed else cfg['thresh_init'],
            momentum=cfg['thresh_momentum'],
            fixed=fixed)
        self.corr_head = CorrelationHead(**self._corr_head_cfg(corr_head))
        self.corr_loss = CorrelationLoss(
            normalize=cfg['normalize'], align_corners=self.align_corners)

    def _corr_head_cfg(self, corr_head: OptConfigType) -> dict:
        """Correlation head kwargs, completed from the student."""
        cfg = dict(copy.deepcopy(corr_head if corr_head is not None else
                                 self.semi_train_cfg['corr_head']))
        cfg.pop('type', None)
        head = self.student.decode_head
        if 'in_channels' not in cfg:
            cfg['in_channels'] = self._corr_in_channels(head)
        cfg.setdefault('corr_channels', self.num_classes)
        cfg.setdefault('norm_cfg', copy.deepcopy(head.norm_cfg) or
                       dict(type='BN', requires_grad=True))
        cfg.setdefault('align_corners', self.align_corners)
        return cfg

    def _corr_in_channels(self, head) -> int:
        """Channels of the backbone output ``corr_in_index``, read from the
        decode head when it uses that output (-1: its last input)."""
        index = self.semi_train_cfg['corr_in_index']
        channels = head.in_channels
        if not isinstance(channels, (list, tuple)):
            return channels
        in_index = list(head.in_index) if isinstance(
            head.in_index, (list, tuple)) else [head.in_index]
        if index == -1:
            return channels[-1]
        if index in in_index:
            return channels[in_index.index(index)]
        raise ValueError(
            f'semi_train_cfg.corr_in_index={index} is not an input of the '
            f'decode head (in_index={in_index}); give '
            'semi_train_cfg.corr_head.in_channels')

    # ------------------------------------------------------------------
    def train_forward_batches(self, num_labeled: int,
                              num_unlabeled: int) -> Dict[str, int]:
        """Labeled + weak images in one pass, the strong view alone."""
        return dict(student=min(num_labeled + num_unlabeled, num_unlabeled))

    def loss(self, inputs: Dict[str, Tensor],
             data_samples: Dict[str, SampleList]) -> dict:
        cfg = self.semi_train_cfg
        strong_branch = cfg['strong_branches'][0]
        self.check_branches(inputs, ['sup', 'unsup_weak', strong_branch])
        x_l, x_w, x_s = (inputs['sup'], inputs['unsup_weak'],
                         inputs[strong_branch])
        num_l, num_u, _, height, width = (x_l.shape[0], *x_w.shape)
        size = (height, width)
        weak_samples = data_samples['unsup_weak']
        valid = self.valid_mask(weak_samples)

        # 1. eval-mode CutMix partner (image i - 1 of the batch)
        # Only the partner's labels and confidences are used: they are
        # thresholded with tau after mixing.
        partner_logits, partner, partner_valid, _ = \
            self._partner_predictions(x_w, valid, threshold=0.0)

        # 2. labeled + weak: clean and perturbed logits, correlation
        feats = self.student.extract_feat(torch.cat([x_l, x_w]))
        head = self.student.decode_head
        logits, logits_fp, extra = decode_with_perturbation(
            head, feats, dropout=cfg['fp_dropout'], return_extra=True)
        c4 = feature_map(feats[cfg['corr_in_index']])
        corr = self.corr_head(c4)
        # The official model propagates logits upsampled to the image.
        logits_up = self.upsample_logits(logits, size)
        prop = self.corr_head.propagate(corr, logits_up, c4.shape[-2:])
        logits_l, logits_w = logits.split([num_l, num_u])

        # 3. the CutMix-ed strong view
        box = cutmix_boxes(num_u, height, width, prob=cfg['cutmix_prob'],
                           device=x_w.device)
        x_mix, = mix(box, [x_s], [x_s.roll(1, dims=0)])
        feats_s = self.student.extract_feat(x_mix)
        logits_s = self.upsample_logits(
            split_head_output(head, head(feats_s))[0], size)
        c4_s = feature_map(feats_s[cfg['corr_in_index']])
        prop_s = self.corr_head.propagate(
            self.corr_head(c4_s), logits_s, c4_s.shape[-2:])

        # 4. targets: weak, mixed, threshold, region propagation
        logits_w_up = logits_up[num_l:].detach()
        valid_mix, = mix(box, [valid], [partner_valid])
        self.thresh.update(
            logits_w_up, valid_mix if cfg['thresh_valid'] == 'mixed' else
            valid)
        # A copy: the logged value must not follow later in-place updates.
        tau = self.thresh.tau.detach().clone()
        pseudo_w = pseudo_labels_from_logits(logits_w_up, tau, valid)
        self.record_pseudo_labels(x_w, pseudo_w, tau)
        labels_mix, conf_mix = mix(box, [pseudo_w.labels, pseudo_w.conf],
                                   [partner.labels, partner.conf])
        mask_mix = (conf_mix >= tau) & valid_mix
        labels_prop, mask_prop, accepted = self._region_propagation(
            corr[num_l:].detach(), c4.shape[-2:], size, labels_mix,
            mask_mix, box, valid_mix, tau)

        # 5. losses
        losses = self.add_prefix(
            self.scale_losses(
                self.supervised_loss(logits_l,
                                     feature_rows(feats, slice(None, num_l)),
                                     data_samples['sup'],
                                     extra_rows(extra, slice(None, num_l))),
                cfg['sup_weight']), 'sup')
        # the propagated logits take the head's criterion for its logits
        # (for heads with several outputs, without their extra terms)
        sup_corr = pixel_loss_by_feat(head, prop[:num_l], data_samples['sup'])
        losses.update(self.add_prefix(
            self.scale_losses(sup_corr, cfg['sup_corr_weight']),
            'sup_corr.decode'))
        norm = cfg['normalize']
        losses['unsup.loss_strong'] = cfg['strong_weight'] * \
            masked_cross_entropy(logits_s, labels_prop, mask_prop,
                                 normalize=norm, valid=valid_mix)
        losses['unsup.loss_fp'] = cfg['fp_weight'] * masked_cross_entropy(
            self.upsample_logits(logits_fp[num_l:], size), pseudo_w.labels,
            pseudo_w.mask, normalize=norm, valid=valid)
        kl_target = class_probabilities(logits_w_up)
        if cfg['kl_target'] == 'mixed':
            kl_target, = mix(box, [kl_target],
                             [class_probabilities(partner_logits)])
        losses['unsup.loss_kl'] = cfg['kl_weight'] * masked_kl_div(
            logits_s, kl_target, mask_mix, normalize=norm, valid=valid_mix)
        losses['unsup.loss_corr_strong'] = cfg['corr_strong_weight'] * \
            self.corr_loss(prop_s, labels_prop, mask_prop, valid_mix)
        losses['unsup.loss_corr_weak'] = cfg['corr_weak_weight'] * \
            self.corr_loss(prop[num_l:], pseudo_w.labels, pseudo_w.mask,
                           valid)

        # diagnostics (logged, not summed)
        hidden_gt = self.stack_seg(weak_samples, 'gt_unsup_sem_seg')
        losses.update(self.add_prefix(
            self.pseudo_label_diagnostics(pseudo_w, valid, hidden_gt, tau,
                                          self.ignore_index), 'unsup'))
        losses.update(self.add_prefix(
            self.propagation_diagnostics(mask_mix, mask_prop, valid_mix,
                                         accepted),
            'unsup'))
        return losses

    # ------------------------------------------------------------------
    @torch.no_grad()
    def _region_propagation(self, corr_w: Tensor, feat_size, size,
                            labels: Tensor, mask: Tensor, box: Tensor,
                            valid: Tensor,
                            tau: Tensor
                            ) -> Tuple[Tensor, Tensor, Optional[Tensor]]:
        """Region propagation (spec §5) of the CutMix-ed pseudo-labels with
        shapes from the weak images' correlation maps.

        Returns the propagated labels and mask, and the ``(N, S)`` accepted
        flags of the shapes ('tiled' and 'parallel' modes, else None)."""
        mode = self.semi_train_cfg['region_prop']
        if mode == 'none':
            return labels, mask, None
        rows = sample_shape_rows(corr_w.shape[1],
                                 num=self.semi_train_cfg['num_shapes'],
                                 device=corr_w.device)
        if mode == 'tiled':
            return propagate_regions_tiled(
                labels, mask, corr_w, rows, feat_size, tau, self.num_classes,
                box=box, valid=valid, return_accepted=True,
                align_corners=self.align_corners)
        shapes = correlation_shapes(corr_w, rows, feat_size, size,
                                    align_corners=self.align_corners)
        shapes = restrict_shapes(shapes, box, valid)
        if mode == 'sequential':
            labels, mask = propagate_regions_reference(
                labels, mask, shapes, tau)
            return labels, mask, None
        return propagate_regions(labels, mask, shapes, tau, self.num_classes,
                                 return_accepted=True)

    @staticmethod
    def propagation_diagnostics(
            mask_mix: Tensor,
            mask_prop: Tensor,
            valid_mix: Tensor,
            accepted: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Logged statistics of region propagation: the mask ratio of the
        CutMix-ed targets before (``mask_ratio_mix``) and after
        (``mask_ratio_prop``) propagation, the share of valid pixels it
        added (``region_added``) and, when known, the share of sampled
        shapes accepted (``region_accept_rate``)."""
        count = valid_mix.sum().clamp(min=1)
        stats = dict(mask_ratio_mix=mask_mix.sum() / count,
                     mask_ratio_prop=mask_prop.sum() / count,
                     region_added=(mask_prop & ~mask_mix).sum() / count)
        if accepted is not None:
            stats['region_accept_rate'] = accepted.float().mean()
        return {k: v.float().detach() for k, v in stats.items()}

"""CorrMatch: label propagation via correlation matching (Sun et al.,
CVPR 2024)."""
import copy
from typing import Dict, List, NamedTuple, Optional, Tuple

import torch
from torch import Tensor

from mmseg.registry import MODELS
from mmseg.utils import OptConfigType, OptMultiConfig

from ..losses.masked_losses import masked_cross_entropy, masked_kl_div
from ..utils.decode_head_streams import (ExtraOutputs,
                                         decode_with_perturbation,
                                         extra_rows, feature_map,
                                         feature_rows, pixel_loss_by_feat,
                                         split_head_output)
from ..utils.dynamic_threshold import DynamicThreshold
from ..utils.mixing import mix
from ..utils.pseudo_label import (PseudoLabels, class_probabilities,
                                  pseudo_labels_from_logits)
from ..utils.region_propagation import (propagate_regions_tiled,
                                        sample_shape_rows)
from .semi_base import Partner, SampleList, SemiBaseSegmentor

REGION_PROP_MODES = ('tiled', 'none')
KL_TARGETS = ('weak_unmixed', 'mixed')
THRESH_VALID = ('mixed', 'weak')


class JointPass(NamedTuple):
    """Train-mode pass of labeled + weak images (step 2).

    Attributes:
        feats (list[Tensor]): Backbone outputs of ``cat(x_l, x_w)``.
        logits (Tensor): Clean decoder logits ``(N_l + N_u, K, h, w)``.
        extra (ExtraOutputs): The head's other outputs of that batch.
        logits_w (Tensor): Weak logits at the input size
            ``(N_u, K, H, W)``, detached: the pseudo-label source.
        logits_fp_w (Tensor): Perturbed weak logits ``(N_u, K, H, W)``.
        prop (Tensor): Propagated logits ``(N_l + N_u, K, h', w')``.
        corr_w (Tensor): Weak correlation maps ``(N_u, h'w', h'w')``,
            detached: the shapes of region propagation.
        corr_size (tuple): ``(h', w')`` of the correlation feature.
    """
    feats: List[Tensor]
    logits: Tensor
    extra: ExtraOutputs
    logits_w: Tensor
    logits_fp_w: Tensor
    prop: Tensor
    corr_w: Tensor
    corr_size: Tuple[int, int]


class MixedTargets(NamedTuple):
    """Targets of step 4, all ``(N_u, H, W)``.

    Attributes:
        weak (PseudoLabels): Weak-view pseudo-labels at ``tau``.
        labels, mask: CutMix-ed pseudo-labels and confident-and-valid mask
            (before region propagation).
        valid: CutMix-ed valid mask.
        weak_valid: Valid mask of the weak views.
        tau (Tensor): The step's threshold (0-d).
    """
    weak: PseudoLabels
    labels: Tensor
    mask: Tensor
    valid: Tensor
    weak_valid: Tensor
    tau: Tensor


class Propagated(NamedTuple):
    """CutMix-ed targets after region propagation (step 5).

    Attributes:
        labels, mask: ``(N_u, H, W)`` long and bool.
        accepted (Tensor, optional): ``(N_u, S)`` bool, the accepted
            shapes; None without region propagation.
    """
    labels: Tensor
    mask: Tensor
    accepted: Optional[Tensor]


@MODELS.register_module()
class CorrMatch(SemiBaseSegmentor):
    """CorrMatch on top of any mmseg encoder-decoder (any
    ``BaseDecodeHead``; :class:`SemiDeepLabV3PlusHead` is the official
    architecture). :meth:`loss` is one training step in the official
    order (spec §8), one method per step. A :class:`CorrelationHead`
    (``corr_head``) on the backbone output ``corr_in_index`` gives a
    row-softmax pixel correlation map; it only trains, inference is the
    plain student.

    Loss (official effective weights, spec §7; they sum to 1)::

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
    CutMix-ed mask before it. The weights are the ``*_weight`` keys of
    ``semi_train_cfg``; its other keys are listed in the method README.
    """

    default_train_cfg: Dict = dict(
        SemiBaseSegmentor.default_train_cfg,
        # None: the dynamic threshold (conf_thresh_init, _momentum); a
        # number: a constant one (0.0 for Cityscapes, as in the paper)
        conf_thresh=None,
        conf_thresh_init=0.85,
        conf_thresh_momentum=0.999,
        # valid map of the threshold update: 'mixed' (official, spec #23)
        conf_thresh_valid='mixed',
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
        corr_head=dict(type='CorrelationHead', channels=256,
                       dropout_ratio=0.1),
        corr_loss=dict(type='CorrelationLoss'),
        corr_in_index=-1,
        num_shapes=128,
        region_prop='tiled',
        kl_target='weak_unmixed')

    deprecated_train_cfg_keys = dict(
        SemiBaseSegmentor.deprecated_train_cfg_keys,
        fixed_thresh='conf_thresh',
        thresh_init='conf_thresh_init',
        thresh_momentum='conf_thresh_momentum',
        thresh_valid='conf_thresh_valid')

    def __init__(self,
                 segmentor: dict,
                 semi_train_cfg: OptConfigType = None,
                 semi_test_cfg: OptConfigType = None,
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
                           kl_target=KL_TARGETS,
                           conf_thresh_valid=THRESH_VALID)
        if len(cfg['strong_branches']) != 1:
            raise ValueError('CorrMatch uses exactly one strong view; got '
                             f"strong_branches={cfg['strong_branches']!r}")
        fixed = cfg['conf_thresh'] is not None
        self.thresh = DynamicThreshold(
            init=cfg['conf_thresh'] if fixed else cfg['conf_thresh_init'],
            momentum=cfg['conf_thresh_momentum'],
            fixed=fixed)
        self.corr_head = self.build_part('corr_head',
                                         **self._corr_head_fill())
        self.corr_loss = self.build_part(
            'corr_loss', normalize=cfg['normalize'],
            align_corners=self.align_corners)
        #: Draws the correlation rows that become region-propagation
        #: shapes, see :func:`sample_shape_rows`; replace it to fix them.
        self.shape_row_sampler = sample_shape_rows

    def _corr_head_fill(self) -> dict:
        """Correlation head values read from the student."""
        head = self.student.decode_head
        fill = dict(corr_channels=self.num_classes,
                    norm_cfg=copy.deepcopy(head.norm_cfg) or
                    dict(type='BN', requires_grad=True),
                    align_corners=self.align_corners)
        if 'in_channels' not in self.semi_train_cfg['corr_head']:
            fill['in_channels'] = self._corr_in_channels(head)
        return fill

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
        x_w = inputs['unsup_weak']
        num_u, _, height, width = x_w.shape
        valid = self.valid_mask(data_samples['unsup_weak'])

        # 1. eval-mode prediction of the CutMix partners (image i - 1)
        partner = self.partner_predictions(x_w, valid)
        # 2. labeled + weak: logits, perturbed logits, propagated logits
        joint = self._joint_pass(inputs['sup'], x_w)
        # 3. the strong view with its partner's pasted in the CutMix box
        box = self.cutmix_sampler(num_u, height, width,
                                  prob=cfg['cutmix_prob'], device=x_w.device)
        logits_s, prop_s = self._strong_pass(inputs[strong_branch], box)
        # 4. threshold update, weak and CutMix-ed pseudo-labels
        targets = self._mixed_targets(joint.logits_w, partner, box, valid)
        self.record_pseudo_labels(x_w, targets.weak, targets.tau)
        # 5. region propagation of the CutMix-ed pseudo-labels
        propagated = self._region_propagation(joint, targets, box)

        # 6. the seven losses, then the logged (not summed) diagnostics
        losses = self._supervised_losses(joint, inputs['sup'].shape[0],
                                         data_samples['sup'])
        losses.update(self._unsupervised_losses(
            joint, (logits_s, prop_s), targets, propagated,
            self._kl_target(joint.logits_w, partner, box)))
        losses.update(self._diagnostics(targets, propagated,
                                        data_samples['unsup_weak']))
        return losses

    # ------------------------------------------------------------------
    # the steps
    def _correlate(self, feats: List[Tensor], logits_up: Tensor
                   ) -> Tuple[Tensor, Tensor, Tuple[int, int]]:
        """Correlation maps ``(N, h'w', h'w')`` of the backbone output
        ``corr_in_index``, the logits ``(N, K, H, W)`` propagated with them
        and the feature size ``(h', w')``. The official model propagates
        logits upsampled to the image, so any crop gives its values."""
        feat = feature_map(feats[self.semi_train_cfg['corr_in_index']])
        corr = self.corr_head(feat)
        size = tuple(feat.shape[-2:])
        return corr, self.corr_head.propagate(corr, logits_up, size), size

    def _joint_pass(self, x_l: Tensor, x_w: Tensor) -> JointPass:
        """Step 2: labeled and weak images together in train mode, with
        UniMatch's feature perturbation (``fp_dropout`` on every backbone
        feature the head consumes)."""
        num_l = x_l.shape[0]
        size = x_w.shape[-2:]
        feats = self.student.extract_feat(torch.cat([x_l, x_w]))
        logits, logits_fp, extra = decode_with_perturbation(
            self.student.decode_head, feats,
            dropout=self.semi_train_cfg['fp_dropout'], return_extra=True)
        logits_up = self.upsample_logits(logits, size)
        corr, prop, corr_size = self._correlate(feats, logits_up)
        return JointPass(
            feats, logits, extra, logits_up[num_l:].detach(),
            self.upsample_logits(logits_fp[num_l:], size), prop,
            corr[num_l:].detach(), corr_size)

    def _strong_pass(self, x_s: Tensor, box: Tensor
                     ) -> Tuple[Tensor, Tensor]:
        """Step 3: the strong view with its partner's (image ``i - 1``)
        pasted inside ``box`` ``(N, H, W)``; its logits ``(N, K, H, W)``
        and propagated logits."""
        x_mix, = mix(box, [x_s], [x_s.roll(1, dims=0)])
        head = self.student.decode_head
        feats = self.student.extract_feat(x_mix)
        logits = self.upsample_logits(
            split_head_output(head, head(feats))[0], x_s.shape[-2:])
        _, prop, _ = self._correlate(feats, logits)
        return logits, prop

    def _mixed_targets(self, logits_w: Tensor, partner: Partner,
                       box: Tensor, valid: Tensor) -> MixedTargets:
        """Step 4: the dynamic threshold ``tau`` is updated from the weak
        logits ``(N, K, H, W)`` before it is used (on the mixed valid map
        with ``conf_thresh_valid='mixed'``, official); the weak
        pseudo-labels and the partner's are CutMix-ed like the images and
        thresholded at ``tau`` after mixing."""
        valid_mix, = mix(box, [valid], [partner.valid])
        self.thresh.update(
            logits_w, valid_mix if
            self.semi_train_cfg['conf_thresh_valid'] == 'mixed' else valid)
        # A copy: the logged value must not follow later in-place updates.
        tau = self.thresh.tau.detach().clone()
        weak = pseudo_labels_from_logits(logits_w, tau, valid)
        labels, conf = mix(box, [weak.labels, weak.conf],
                           [partner.labels, partner.conf])
        return MixedTargets(weak, labels, (conf >= tau) & valid_mix,
                            valid_mix, valid, tau)

    @torch.no_grad()
    def _region_propagation(self, joint: JointPass, targets: MixedTargets,
                            box: Tensor) -> Propagated:
        """Step 5 (spec §5): ``num_shapes`` rows of the weak images'
        correlation maps (the same rows for the batch) become binary
        shapes, restricted to outside the CutMix box and to valid pixels;
        a shape whose confident part is large enough (``r1 >= tau``) and
        pure enough (``r2 > tau``) paints its majority pseudo-class over
        the whole shape and joins the mask. ``region_prop='none'`` is
        pixel propagation only (paper Table 6).
        """
        if self.semi_train_cfg['region_prop'] == 'none':
            return Propagated(targets.labels, targets.mask, None)
        corr_w = joint.corr_w
        rows = self.shape_row_sampler(
            corr_w.shape[1], num=self.semi_train_cfg['num_shapes'],
            device=corr_w.device)
        return Propagated(*propagate_regions_tiled(
            targets.labels, targets.mask, corr_w, rows, joint.corr_size,
            targets.tau, self.num_classes, box=box, valid=targets.valid,
            return_accepted=True, align_corners=self.align_corners))

    def _supervised_losses(self, joint: JointPass, num_l: int,
                           samples: SampleList) -> dict:
        """The decode head's criterion (CE, or OHEM for Cityscapes) on the
        labeled logits and on their propagated logits (for heads with
        several outputs, the propagated logits take the criterion of the
        logits output only)."""
        cfg = self.semi_train_cfg
        losses = self.add_prefix(
            self.scale_losses(
                self.supervised_loss(
                    joint.logits[:num_l],
                    feature_rows(joint.feats, slice(None, num_l)), samples,
                    extra_rows(joint.extra, slice(None, num_l))),
                cfg['sup_weight']), 'sup')
        sup_corr = pixel_loss_by_feat(self.student.decode_head,
                                      joint.prop[:num_l], samples)
        losses.update(self.add_prefix(
            self.scale_losses(sup_corr, cfg['sup_corr_weight']),
            'sup_corr.decode'))
        return losses

    def _kl_target(self, logits_w: Tensor, partner: Partner,
                   box: Tensor) -> Tensor:
        """Target probabilities ``(N, K, H, W)`` of the KL term: the
        *un-mixed* weak prediction (official); ``kl_target='mixed'`` pastes
        the partner's eval-mode probabilities into the box."""
        probs = class_probabilities(logits_w)
        if self.semi_train_cfg['kl_target'] == 'mixed':
            probs, = mix(box, [probs], [class_probabilities(partner.logits)])
        return probs

    def _unsupervised_losses(self, joint: JointPass,
                             strong: Tuple[Tensor, Tensor],
                             targets: MixedTargets, propagated: Propagated,
                             kl_target: Tensor) -> dict:
        """The unlabeled terms: the strong view's logits and propagated
        logits ``strong`` against the region-propagated targets and the KL
        target, the perturbed and propagated weak logits against the weak
        pseudo-labels."""
        cfg = self.semi_train_cfg
        norm = cfg['normalize']
        logits_s, prop_s = strong
        weak, valid_mix = targets.weak, targets.valid
        labels, mask = propagated.labels, propagated.mask
        num_u = labels.shape[0]
        return {
            'unsup.loss_strong': cfg['strong_weight'] * masked_cross_entropy(
                logits_s, labels, mask, normalize=norm, valid=valid_mix),
            'unsup.loss_fp': cfg['fp_weight'] * masked_cross_entropy(
                joint.logits_fp_w, weak.labels, weak.mask, normalize=norm,
                valid=targets.weak_valid),
            'unsup.loss_kl': cfg['kl_weight'] * masked_kl_div(
                logits_s, kl_target, targets.mask, normalize=norm,
                valid=valid_mix),
            'unsup.loss_corr_strong': cfg['corr_strong_weight'] *
            self.corr_loss(prop_s, labels, mask, valid_mix),
            'unsup.loss_corr_weak': cfg['corr_weak_weight'] *
            self.corr_loss(joint.prop[-num_u:], weak.labels, weak.mask,
                           targets.weak_valid),
        }

    def _diagnostics(self, targets: MixedTargets, propagated: Propagated,
                     weak_samples: SampleList) -> Dict[str, Tensor]:
        """Pseudo-label and region-propagation statistics, under
        ``unsup.``."""
        hidden_gt = self.stack_seg(weak_samples, 'gt_unsup_sem_seg')
        stats = self.pseudo_label_diagnostics(
            targets.weak, targets.weak_valid, hidden_gt, targets.tau,
            self.ignore_index)
        stats.update(self.propagation_diagnostics(
            targets.mask, propagated.mask, targets.valid,
            propagated.accepted))
        return self.add_prefix(stats, 'unsup')

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

"""U2PL: semi-supervised semantic segmentation using unreliable
pseudo-labels (Wang et al., CVPR 2022)."""
from typing import Dict, Optional

import torch
from torch import Tensor

from mmseg.registry import MODELS
from mmseg.utils import OptConfigType, OptMultiConfig

from ..losses.masked_losses import masked_cross_entropy
from ..utils.decode_head_streams import extra_rows, feature_rows
from ..utils.entropy_partition import drop_rate_at, reliable_mask
from ..utils.mixing import mix
from ..utils.pseudo_label import PseudoLabels, class_probabilities
from .iteration_counter import IterationCounterMixin
from .rep_head_mixin import RepHeadMixin
from .semi_base import SampleList, SemiBaseSegmentor, scalar_tensor

ENTROPY_SOURCES = ('teacher_train_mixed', )


@MODELS.register_module()
class U2PL(IterationCounterMixin, RepHeadMixin, SemiBaseSegmentor):
    """U2PL on top of any mmseg encoder-decoder (any ``BaseDecodeHead``).

    A representation head (:class:`ProjectionHead`, ``rep_head``) is
    attached to the student *and* the teacher segmentor as ``rep_head``, so
    the EMA of :class:`EMATeacherHook` covers it and the teacher's
    representations serve as positives and negatives. It reads the decoder
    features at the input of the head's classifier ``cls_seg``
    (:func:`decode_with_features`), whatever the head. Inference is the
    plain teacher (or student) segmentor; ``rep_head`` is training-only.

    One training step (official order, spec Appendix A), after the
    supervised-only warm-up (``sup_only_iters``; before it only the
    supervised loss is computed and the unsupervised terms are exact zeros
    that stay connected to the graph):

    1. The teacher in ``eval()`` mode predicts the clean unlabeled batch
       (upsampled to the crop): hard argmax pseudo-labels.
    2. With probability ``cutmix_prob`` (one draw per batch) every image
       ``i`` gets a box of ``cutmix_area`` of the crop pasted from image
       ``(i + 1) mod B``; pseudo-labels, valid map and the hidden ground
       truth are mixed with the same box.
    3. The student runs once on ``cat(x_l, x_u_mix)``: logits and ``rep``.
    4. The teacher runs in ``train()`` mode (no gradients) on the same
       batch; its unlabeled probabilities give the entropy map, its
       probabilities and ``rep`` feed the contrastive term (official
       ``entropy_source='teacher_train_mixed'``).
    5. ``alpha_t = drop_rate_at(progress, alpha0)``; the top ``alpha_t`` of
       valid pixels by entropy are unreliable (:func:`reliable_mask`).
    6. ``L_u = unsup_weight * N_valid / N_kept * CE_mean_kept`` (official
       adaptive weight, ``N_valid`` = non-padded mixed pixels).
    7. ``L_c = contrast_weight * CategoryQueueInfoNCELoss(...)``, used
       directly: the official ``all_reduce / #GPUs`` (an effective
       ``1 / #GPUs`` weight on the gradient) is not reproduced.

    Training progress ``t / T`` is ``iter / max_iters`` (continuous), or
    ``(iter // iters_per_epoch) * iters_per_epoch / max_iters`` (official,
    piecewise constant per epoch) when ``iters_per_epoch`` is set. ``iter``
    is the registered buffer :attr:`cur_iter`, incremented by every
    training :meth:`loss` call, so it is checkpointed with the model and
    equals ``runner.iter`` after a resume.

    ``semi_train_cfg`` keys (defaults in :attr:`default_train_cfg`):

    - ``max_iters`` (the drop-rate schedule's length) and
      ``iters_per_epoch``: ``None`` takes ``train_cfg.max_iters`` and the
      per-process epoch of the unlabeled set from the training run
      (:meth:`set_train_schedule`); ``iters_per_epoch=1`` gives the
      continuous progress;
    - ``sup_only_epochs`` (0) or ``sup_only_iters`` (``None``: that many
      epochs): supervised warm-up (:meth:`supervised_only_iters`, which
      ``EMATeacherHook`` also starts from when its ``begin_iter`` is
      ``None``);
    - ``alpha0`` (0.2), ``per_image_threshold`` (False: per-batch);
    - ``unsup_weight`` (1.0), ``contrast_weight`` (0.1, paper appendix;
      0.25 / 0.125 are the official VOC / Cityscapes effective values);
    - ``cutmix_prob`` (0.5, per batch), ``cutmix_area`` (0.5),
      ``cutmix_ratio`` (aspect-ratio range of the box);
    - ``rep_head``: :class:`ProjectionHead` config; ``in_channels``
      defaults to the input channels of the decode head's classifier;
    - ``contrast``: the contrastive loss config
      (:class:`CategoryQueueInfoNCELoss`; ``num_classes`` and ``feat_dim``
      default to the segmentor's classes and the representation size);
    - ``entropy_source``: 'teacher_train_mixed' (official two-pass).
    """

    default_train_cfg: Dict = dict(
        SemiBaseSegmentor.default_train_cfg,
        use_teacher=True,
        # the teacher follows the model's mode; the pseudo-label pass
        # switches it to eval() (official, spec §4.2 steps 1 and 4)
        teacher_mode='train',
        max_iters=None,
        iters_per_epoch=None,
        sup_only_epochs=0,
        sup_only_iters=None,
        alpha0=0.2,
        per_image_threshold=False,
        unsup_weight=1.0,
        contrast_weight=0.1,
        cutmix_prob=0.5,
        cutmix_area=0.5,
        cutmix_ratio=(0.5, 2.0),
        rep_head=dict(type='ProjectionHead', channels=256, out_channels=256,
                      dropout_ratio=0.1),
        contrast=dict(type='CategoryQueueInfoNCELoss'),
        entropy_source='teacher_train_mixed')

    run_schedule_keys = dict(max_iters='max_iters',
                             iters_per_epoch='unlabeled_epoch')

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
        if not cfg['use_teacher']:
            raise ValueError('U2PL needs a teacher (use_teacher=True)')
        self.check_choices(entropy_source=ENTROPY_SOURCES)
        rep_cfg = self.build_rep_heads(cfg['rep_head'])
        self.contrast_loss = None
        if cfg['contrast_weight'] > 0:
            self.contrast_loss = self.build_contrast_loss(rep_cfg)
        # Iterations done, checkpointed (drives DPA and the warm-up).
        self.register_iteration_counter()

    # ------------------------------------------------------------------
    def progress(self, cur_iter: Optional[int] = None) -> float:
        """Training progress ``t / T`` in [0, 1] at ``cur_iter``."""
        max_iters = self.schedule_value('max_iters')
        it = int(self.cur_iter) if cur_iter is None else int(cur_iter)
        ipe = self.semi_train_cfg['iters_per_epoch']
        if ipe:
            it = (it // ipe) * ipe
        return min(it / max_iters, 1.0)

    def supervised_only_iters(self) -> int:
        """Length of the supervised warm-up: ``sup_only_iters``, else
        ``sup_only_epochs`` epochs of ``iters_per_epoch``."""
        cfg = self.semi_train_cfg
        if cfg['sup_only_iters'] is not None:
            return int(cfg['sup_only_iters'])
        if not cfg['sup_only_epochs']:
            return 0
        return int(cfg['sup_only_epochs']) * self.schedule_value(
            'iters_per_epoch')

    def drop_rate(self, cur_iter: Optional[int] = None) -> float:
        """``alpha_t`` (a fraction) at ``cur_iter``."""
        return drop_rate_at(self.progress(cur_iter),
                            self.semi_train_cfg['alpha0'])

    def _cutmix_box(self, num: int, height: int, width: int,
                    device) -> Tensor:
        """One draw per batch (official): all images get a box, or none."""
        cfg = self.semi_train_cfg
        area = float(cfg['cutmix_area'])
        box = self.cutmix_sampler(num, height, width, prob=1.0,
                                  area=(area, area),
                                  ratio=tuple(cfg['cutmix_ratio']),
                                  device=device)
        if float(torch.rand(())) >= cfg['cutmix_prob']:
            box = torch.zeros_like(box)
        return box

    # ------------------------------------------------------------------
    def train_forward_batches(self, num_labeled: int,
                              num_unlabeled: int) -> Dict[str, int]:
        """The labeled images alone in the supervised phase, then labeled
        and mixed unlabeled images together (the train-mode teacher too)."""
        return dict(student=num_labeled,
                    teacher=num_labeled + num_unlabeled)

    def loss(self, inputs: Dict[str, Tensor],
             data_samples: Dict[str, SampleList]) -> dict:
        cfg = self.semi_train_cfg
        self.check_branches(inputs, ['sup', 'unsup_weak'])
        cur_iter = self.next_iteration()
        x_l, x_u = inputs['sup'], inputs['unsup_weak']
        num_l, num_u = x_l.shape[0], x_u.shape[0]
        size = x_u.shape[-2:]
        sup_samples = data_samples['sup']
        alpha = self.drop_rate(cur_iter)

        if cur_iter < self.supervised_only_iters():
            # Supervised warm-up: the unlabeled batch is ignored.
            feats, logits, rep, extra = self.student_forward(x_l)
            losses = self.add_prefix(
                self.supervised_loss(logits, feats, sup_samples, extra),
                'sup')
            zero = 0.0 * (logits.sum() + rep.sum())
            losses['unsup.loss_u'] = zero
            losses['unsup.loss_contrast'] = zero.clone()
            losses['unsup.drop_rate'] = scalar_tensor(alpha, x_l.device)
            return losses

        weak_samples = data_samples['unsup_weak']
        valid = self.valid_mask(weak_samples)
        hidden_gt = self.stack_seg(weak_samples, 'gt_unsup_sem_seg')

        # 1. eval-mode teacher pseudo-labels on the clean images
        pseudo = self.eval_pseudo_labels(self.teacher, x_u, valid)
        self.record_pseudo_labels(x_u, pseudo, 0.0)
        # 2. CutMix with partner (i + 1) mod B
        box = self._cutmix_box(num_u, *size, device=x_u.device)
        src = [x_u, pseudo.labels, pseudo.conf, valid]
        if hidden_gt is not None:
            src.append(hidden_gt)
        mixed = mix(box, src, [t.roll(-1, dims=0) for t in src])
        x_mix, labels_u, conf_u, valid_mix = mixed[:4]
        hidden_mix = mixed[4] if hidden_gt is not None else None

        # 3. student on labeled + mixed unlabeled, one pass
        x_all = torch.cat([x_l, x_mix])
        feats, logits, rep, extra = self.student_forward(x_all)
        logits_l, logits_u = logits.split([num_l, num_u])
        losses = self.add_prefix(
            self.supervised_loss(logits_l,
                                 feature_rows(feats, slice(None, num_l)),
                                 sup_samples,
                                 extra_rows(extra, slice(None, num_l))),
            'sup')

        # 4. train-mode teacher on the same batch (entropy, probs, rep)
        logits_t, rep_t = self.teacher_forward(x_all)
        probs_t = class_probabilities(logits_t)
        probs_u_full = class_probabilities(
            self.upsample_logits(logits_t[num_l:], size))

        # 5. entropy partition with the scheduled drop rate
        reliable = reliable_mask(probs_u_full, valid_mix, 100.0 * alpha,
                                 per_image=cfg['per_image_threshold'])
        unreliable = valid_mix & ~reliable

        # 6. unsupervised CE on reliable pixels, adaptive weight
        kept = reliable.sum()
        weight = valid_mix.sum().float() / kept.clamp(min=1).float()
        losses['unsup.loss_u'] = cfg['unsup_weight'] * weight * \
            masked_cross_entropy(self.upsample_logits(logits_u, size),
                                 labels_u, reliable, normalize='mask')

        # 7. contrastive term with the category queues
        if self.contrast_loss is not None:
            losses['unsup.loss_contrast'] = cfg['contrast_weight'] * \
                self._contrastive(rep, rep_t, probs_t, sup_samples,
                                  labels_u, valid_mix, reliable, unreliable,
                                  self.progress(cur_iter))
        else:
            # term disabled: an exact zero that keeps rep_head in the graph
            # (DDP without find_unused_parameters)
            losses['unsup.loss_contrast'] = 0.0 * rep.sum()

        # diagnostics (logged, not summed)
        stats = self.pseudo_label_diagnostics(
            PseudoLabels(labels_u, conf_u, reliable), valid_mix, hidden_mix,
            alpha, self.ignore_index)
        stats['drop_rate'] = stats.pop('threshold')
        stats['lambda_u'] = weight.detach()
        stats['cutmix'] = box.any().float()
        losses.update(self.add_prefix(stats, 'unsup'))
        return losses

    def _contrastive(self, rep: Tensor, rep_t: Tensor, probs_t: Tensor,
                     sup_samples: SampleList, labels_u: Tensor,
                     valid_u: Tensor, reliable: Tensor, unreliable: Tensor,
                     progress: float) -> Tensor:
        """:class:`CategoryQueueInfoNCELoss` on labeled + mixed unlabeled
        pixels. Labels are the GT and the (mixed, unfiltered) teacher
        arg-max, masks the full-resolution entropy partition; the loss
        resizes them to the feature map with nearest interpolation, as the
        official code."""
        ignore = self.ignore_index
        gt = self.stack_seg(sup_samples).to(rep.device)
        labels_u = torch.where(valid_u, labels_u,
                               torch.full_like(labels_u, ignore))
        no_lab = torch.zeros_like(gt, dtype=torch.bool)
        is_labeled = torch.zeros(rep.shape[0], dtype=torch.bool,
                                 device=rep.device)
        is_labeled[:gt.shape[0]] = True
        return self.contrast_loss(
            rep, rep_t.detach(), probs_t.detach(),
            torch.cat([gt, labels_u]), is_labeled,
            reliable=torch.cat([no_lab, reliable]),
            unreliable=torch.cat([no_lab, unreliable]),
            progress=progress)

"""CSS: collaborative space supervision for contrastive semi-supervised
semantic segmentation (Wang et al., ICCV 2023)."""
import math
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS
from mmseg.utils import OptConfigType, OptMultiConfig

from ..losses.masked_losses import masked_cross_entropy
from ..losses.prototype_contrast import prototype_similarity
from ..losses.reco_threshold_ce import reco_fraction_cross_entropy
from ..utils.joint_augment import joint_geometric_augment
from ..utils.pseudo_label import PseudoLabels, class_probabilities
from .iteration_counter import IterationCounterMixin
from .rep_head_mixin import RepHeadMixin
from .semi_base import SampleList, SemiBaseSegmentor, scalar_tensor

PSEUDO_LABEL_MODES = ('mix', 'cross', 'logit', 'rep')
UNSUP_WEIGHTINGS = ('reco_fraction', 'hard_mask')
CONTRAST_SCHEDULES = ('rampdown', 'constant')


def contrast_rampdown(epoch: int, epochs: int, mult: float = -5.0) -> float:
    """ReCo/CSS ramp-down ``exp(mult * (e / E)^2)`` for ``e < E``, else 0."""
    if epoch >= epochs:
        return 0.0
    return math.exp(mult * (epoch / epochs) ** 2)


def quantize_8bit(conf: Tensor) -> Tensor:
    """``floor(255 c) / 255``: the official 8-bit PIL round-trip of the
    confidence maps (effective thresholds 248/255 and 179/255)."""
    return torch.floor(conf * 255) / 255


@MODELS.register_module()
class CSS(IterationCounterMixin, RepHeadMixin, SemiBaseSegmentor):
    """CSS (mix and cross variants) on any mmseg encoder-decoder.

    A representation head (``rep_head``, :class:`ProjectionHead`) is attached
    to student and EMA teacher (:class:`EMATeacherHook`). It reads the
    'fusion_input' point of :class:`SemiDeepLabV3PlusHead` (the
    concatenation of the upsampled ASPP output and the projected ``c1``,
    the 304-channel feature of the official head) and the input of the
    classifier ``cls_seg`` on every other head. Class prototypes are buffers
    of :class:`PrototypeContrastLoss` (``contrast_loss``).

    One training step (official mix script, spec §5):

    1. The teacher (train-mode BN, as the official code) predicts the weak
       unlabeled view: logit-space labels ``y_lg`` with confidence ``c_lg``
       and representation-space labels ``y_rep`` (most similar prototype,
       similarity map upsampled to the crop) with ``c_rep =
       max softmax(sim / tau_ind)``.
    2. Pseudo-labels: 'mix' keeps ``y_lg`` where ``y_lg == y_rep`` and
       ignores the rest; 'cross' trains the logits on ``(y_rep, c_rep)``
       (on ``(y_lg, c_lg)`` during ``cross_warmup_iters``) and the
       contrastive branch on ``y_lg``.
    3. Joint strong augmentation of the photometrically strong view with
       its labels and confidences (rescale/crop/pad, CutMix, flip).
    4. Student on the labeled and on the strong unlabeled batch (two
       forwards, separate BN statistics, as the official code).
    5. ``L_s``: the segmentor's supervised losses.
    6. ``L_u``: ReCo fraction weighting (official) or a hard confidence
       mask (paper), times ``unsup_weight``.
    7. ``L_c = lambda_c * PrototypeContrastLoss`` on labeled + unlabeled
       pixels at feature resolution (valid: GT, or
       ``c_lg >= contrast_conf_thresh``
       and a label); ``lambda_c`` ramps down over ``rampdown_epochs``
       labeled epochs of ``iters_per_epoch`` iterations.

    ``semi_train_cfg`` keys (defaults in :attr:`default_train_cfg`):
    ``pseudo_label`` ('mix'), ``unsup_weighting`` ('reco_fraction'),
    ``conf_thresh`` (0.97), ``contrast_conf_thresh`` (0.7),
    ``indicator_temperature`` (0.5), ``unsup_weight`` (1.0),
    ``contrast_weight`` (1.0), ``contrast_schedule`` ('rampdown'),
    ``rampdown_epochs`` (200), ``iters_per_epoch`` (the ramp-down's epoch,
    ``floor(ceil(N_labeled / world_size) / batch_per_gpu)``; ``None`` takes
    the labeled epoch of the training run, :meth:`set_train_schedule`),
    ``cross_warmup_iters`` (0), ``strong_scale`` ((0.5, 1.5)),
    ``cutmix_prob`` (1.0), ``cutmix_area`` (0.5), ``cutmix_ratio``,
    ``flip_prob`` (0.5), ``quantize_conf`` (False: float confidences;
    True: ``floor(255 c) / 255`` as the official PIL round-trip),
    ``strong_branches`` (('unsup_strong', ): the one batch branch holding
    the photometrically strong view), ``rep_head``, ``contrast`` (the
    contrastive loss config, :class:`PrototypeContrastLoss`). Deprecated
    names: :attr:`deprecated_train_cfg_keys`.
    """

    default_train_cfg: Dict = dict(
        SemiBaseSegmentor.default_train_cfg,
        use_teacher=True,
        teacher_mode='train',
        pseudo_label='mix',
        unsup_weighting='reco_fraction',
        conf_thresh=0.97,
        contrast_conf_thresh=0.7,
        indicator_temperature=0.5,
        unsup_weight=1.0,
        contrast_weight=1.0,
        contrast_schedule='rampdown',
        rampdown_epochs=200,
        iters_per_epoch=None,
        cross_warmup_iters=0,
        strong_scale=(0.5, 1.5),
        cutmix_prob=1.0,
        cutmix_area=0.5,
        cutmix_ratio=(0.5, 2.0),
        flip_prob=0.5,
        strong_branches=('unsup_strong', ),
        quantize_conf=False,
        rep_head=dict(type='ProjectionHead', channels=256, out_channels=256,
                      dropout_ratio=0.0),
        contrast=dict(type='PrototypeContrastLoss'))

    deprecated_train_cfg_keys = dict(
        SemiBaseSegmentor.deprecated_train_cfg_keys,
        unsup_threshold='conf_thresh',
        weak_threshold='contrast_conf_thresh',
        strong_branch=('strong_branches', lambda branch: (branch, )))

    rep_feature_point = ('fusion_input', )
    run_schedule_keys = dict(iters_per_epoch='labeled_epoch')

    def __init__(self,
                 segmentor: dict,
                 semi_train_cfg: OptConfigType = None,
                 semi_test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None,
                 **segmentor_options) -> None:
        super().__init__(
            segmentor=segmentor,
            semi_train_cfg=semi_train_cfg,
            semi_test_cfg=semi_test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg,
            **segmentor_options)
        cfg = self.semi_train_cfg
        if not cfg['use_teacher']:
            raise ValueError('CSS needs a teacher (use_teacher=True)')
        self.check_choices(pseudo_label=PSEUDO_LABEL_MODES,
                           unsup_weighting=UNSUP_WEIGHTINGS,
                           contrast_schedule=CONTRAST_SCHEDULES)
        if len(cfg['strong_branches']) != 1:
            raise ValueError('CSS uses exactly one strong view; got '
                             f"strong_branches={cfg['strong_branches']!r}")
        rep_cfg = self.build_rep_heads(cfg['rep_head'])
        self.contrast_loss = self.build_contrast_loss(
            rep_cfg, indicator_temperature=cfg['indicator_temperature'])
        # Iterations done, checkpointed (drives lambda_c and the warm-up).
        self.register_iteration_counter()

    # ------------------------------------------------------------------
    def contrast_lambda(self, cur_iter: int) -> float:
        """``lambda_c`` at iteration ``cur_iter``."""
        cfg = self.semi_train_cfg
        if cfg['contrast_schedule'] == 'constant':
            return float(cfg['contrast_weight'])
        epoch = cur_iter // self.schedule_value('iters_per_epoch')
        return cfg['contrast_weight'] * contrast_rampdown(
            epoch, cfg['rampdown_epochs'])

    @torch.no_grad()
    def teacher_pseudo_labels(self, x_u: Tensor) -> Dict[str, Tensor]:
        """Logit- and representation-space labels and confidences
        ``(N, H, W)`` of the teacher on the weak view."""
        size = x_u.shape[-2:]
        logits, rep = self.teacher_forward(x_u)
        conf_lg, y_lg = class_probabilities(
            self.upsample_logits(logits, size)).max(dim=1)
        sim = prototype_similarity(rep, self.contrast_loss.prototypes)
        sim = self.upsample_logits(sim, size)
        tau = self.contrast_loss.indicator_temperature
        conf_rep, y_rep = class_probabilities(sim / tau).max(dim=1)
        return dict(y_lg=y_lg, conf_lg=conf_lg, y_rep=y_rep,
                    conf_rep=conf_rep)

    def combine_pseudo_labels(self, pl: Dict[str, Tensor], valid: Tensor,
                              cur_iter: int) -> Dict[str, Tensor]:
        """Targets of the CE (``y_ce``, ``c_ce``) and of the contrastive
        branch (``y_ct``, ``c_ct``, logit confidence), padding ignored."""
        ignore = torch.full_like(pl['y_lg'], self.ignore_index)
        mode = self.semi_train_cfg['pseudo_label']
        if mode == 'mix':
            agree = pl['y_lg'] == pl['y_rep']
            y_ce = torch.where(agree, pl['y_lg'], ignore)
            out = dict(y_ce=y_ce, c_ce=pl['conf_lg'], y_ct=y_ce)
        elif mode == 'cross':
            warm = cur_iter < self.semi_train_cfg['cross_warmup_iters']
            src = 'lg' if warm else 'rep'
            out = dict(y_ce=pl[f'y_{src}'], c_ce=pl[f'conf_{src}'],
                       y_ct=pl['y_lg'])
        else:  # a single space for both branches (ablations)
            out = dict(y_ce=pl[f'y_{mode}'], c_ce=pl[f'conf_{mode}'],
                       y_ct=pl[f'y_{mode}'])
        out['c_ct'] = pl['conf_lg']
        zero = torch.zeros_like(pl['conf_lg'])
        for key in ('y_ce', 'y_ct'):
            out[key] = torch.where(valid, out[key], ignore)
        for key in ('c_ce', 'c_ct'):
            out[key] = torch.where(valid, out[key], zero)
            if self.semi_train_cfg['quantize_conf']:
                out[key] = quantize_8bit(out[key])
        return out

    def unsupervised_loss(self, logits_u: Tensor, target: Tensor,
                          conf: Tensor) -> Tensor:
        """``L_u`` on the strong view, logits at the crop size."""
        cfg = self.semi_train_cfg
        if cfg['unsup_weighting'] == 'reco_fraction':
            return reco_fraction_cross_entropy(
                logits_u, target, conf, cfg['conf_thresh'],
                self.ignore_index)
        labelled = target != self.ignore_index
        return masked_cross_entropy(
            logits_u, torch.where(labelled, target, torch.zeros_like(target)),
            self.confident_pixels(target, conf), normalize='mask')

    def confident_pixels(self, labels: Tensor, conf: Tensor) -> Tensor:
        """Pixels ``(N, H, W)`` with a pseudo-label and a confidence
        ``>= conf_thresh``: the mask of the 'hard_mask' loss, and the
        pixels whose share weights the 'reco_fraction' loss. Logged as
        ``mask_ratio`` and shown as the kept pixels of the pseudo-label
        picture, titled with the threshold."""
        return (labels != self.ignore_index) & \
            (conf >= self.semi_train_cfg['conf_thresh'])

    @staticmethod
    def to_feature_size(maps: Tensor, size) -> Tensor:
        """Nearest resize ``(N, H, W)`` -> ``(N, h, w)`` (strided top-left
        selection for integer factors, as PyTorch's ``nearest``)."""
        return F.interpolate(maps[:, None].float(), size=tuple(size),
                             mode='nearest')[:, 0].to(maps.dtype)

    def contrast_inputs(self, gt: Tensor, y_u: Tensor, conf_u: Tensor,
                        size) -> Dict[str, Tensor]:
        """Labels and valid mask ``(N_l + N_u, h, w)`` of the contrastive
        loss: GT pixels, and unlabeled pixels with a label and logit
        confidence ``>= contrast_conf_thresh``."""
        gt_s = self.to_feature_size(gt, size)
        y_s = self.to_feature_size(y_u, size)
        c_s = self.to_feature_size(conf_u, size)
        valid_l = gt_s != self.ignore_index
        valid_u = (y_s != self.ignore_index) & \
            (c_s >= self.semi_train_cfg['contrast_conf_thresh'])
        return dict(labels=torch.cat([gt_s, y_s]),
                    valid=torch.cat([valid_l, valid_u]))

    # ------------------------------------------------------------------
    def train_forward_batches(self, num_labeled: int,
                              num_unlabeled: int) -> Dict[str, int]:
        """The student runs on the labeled and the augmented unlabeled
        images separately, the train-mode teacher on the weak views."""
        return dict(student=min(num_labeled, num_unlabeled),
                    teacher=num_unlabeled)

    def loss(self, inputs: Dict[str, Tensor],
             data_samples: Dict[str, SampleList]) -> dict:
        cfg = self.semi_train_cfg
        strong = cfg['strong_branches'][0]
        self.check_branches(inputs, ['sup', 'unsup_weak', strong])
        cur_iter = self.next_iteration()
        x_l, x_w, x_s = inputs['sup'], inputs['unsup_weak'], inputs[strong]
        size = x_w.shape[-2:]
        sup_samples = data_samples['sup']
        weak_samples = data_samples['unsup_weak']
        valid = self.valid_mask(weak_samples)
        hidden_gt = self.stack_seg(weak_samples, 'gt_unsup_sem_seg')

        # 1. teacher labels in logit and representation space
        pl = self.teacher_pseudo_labels(x_w)
        # 2. collaborative pseudo-labels (mix / cross)
        tgt = self.combine_pseudo_labels(pl, valid, cur_iter)
        self.record_pseudo_labels(
            x_w, PseudoLabels(tgt['y_ce'], tgt['c_ce'],
                              self.confident_pixels(tgt['y_ce'],
                                                    tgt['c_ce'])),
            cfg['conf_thresh'])

        # 3. joint strong augmentation of view, labels and confidences
        maps = [tgt['y_ce'], tgt['c_ce'], tgt['y_ct'], tgt['c_ct']]
        fills = [self.ignore_index, 0.0, self.ignore_index, 0.0]
        if hidden_gt is not None:
            maps.append(hidden_gt)
            fills.append(self.ignore_index)
        x_aug, maps, params = joint_geometric_augment(
            x_s, maps, fills, scale_range=tuple(cfg['strong_scale']),
            cutmix_prob=cfg['cutmix_prob'], cutmix_area=cfg['cutmix_area'],
            cutmix_ratio=tuple(cfg['cutmix_ratio']),
            flip_prob=cfg['flip_prob'])
        y_ce, c_ce, y_ct, c_ct = maps[:4]

        # 4. student: labeled and strong unlabeled batches
        feats_l, logits_l, rep_l, extra_l = self.student_forward(x_l)
        _, logits_u, rep_u, _ = self.student_forward(x_aug)

        # 5. supervised loss
        losses = self.add_prefix(
            self.supervised_loss(logits_l, feats_l, sup_samples, extra_l),
            'sup')
        # 6. unsupervised CE on the strong view
        losses['unsup.loss_u'] = cfg['unsup_weight'] * self.unsupervised_loss(
            self.upsample_logits(logits_u, size), y_ce, c_ce)
        # 7. prototype contrast on labeled + unlabeled pixels
        lam = self.contrast_lambda(cur_iter)
        ct = self.contrast_inputs(self.stack_seg(sup_samples).to(x_l.device),
                                  y_ct, c_ct, rep_l.shape[-2:])
        losses['unsup.loss_contrast'] = lam * self.contrast_loss(
            torch.cat([rep_l, rep_u]), ct['labels'], ct['valid'])

        losses.update(self.add_prefix(
            self.diagnostics(pl, valid, y_ce, c_ce, maps[4] if hidden_gt
                             is not None else None, hidden_gt, lam),
            'unsup'))
        return losses

    @torch.no_grad()
    def diagnostics(self, pl: Dict[str, Tensor], valid: Tensor, y_ce: Tensor,
                    c_ce: Tensor, hidden_aug: Optional[Tensor],
                    hidden_gt: Optional[Tensor], lam: float
                    ) -> Dict[str, Tensor]:
        """Logged statistics (no 'loss' in the keys)."""
        labelled = y_ce != self.ignore_index
        kept = self.confident_pixels(y_ce, c_ce)
        stats = self.pseudo_label_diagnostics(
            PseudoLabels(y_ce, c_ce, kept), labelled | kept, hidden_aug,
            self.semi_train_cfg['conf_thresh'], self.ignore_index)
        stats['agree_ratio'] = ((pl['y_lg'] == pl['y_rep']) & valid).sum() \
            / valid.sum().clamp(min=1)
        if hidden_gt is not None:
            seen = valid & (hidden_gt != self.ignore_index)
            for space in ('lg', 'rep'):
                stats[f'pl_acc_{space}'] = (
                    (pl[f'y_{space}'] == hidden_gt) & seen).sum() / \
                    seen.sum().clamp(min=1)
        stats['lambda_c'] = scalar_tensor(lam, valid.device)
        for key, value in self.contrast_loss.last_stats.items():
            stats[key] = value
        return {k: v.float().detach() for k, v in stats.items()}

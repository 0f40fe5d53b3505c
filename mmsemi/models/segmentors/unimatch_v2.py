"""UniMatch V2: EMA-teacher pseudo-labels, two CutMix-ed strong views and
complementary channel dropout (Yang et al., TPAMI 2025)."""
from typing import Callable, Dict, List, Tuple

import torch
from torch import Tensor

from mmseg.registry import MODELS

from ..utils.complementary_dropout import complementary_channel_masks
from ..utils.decode_head_streams import (decode_with_channel_masks,
                                         split_head_output)
from ..utils.mixing import mix
from ..utils.pseudo_label import PseudoLabels
from .semi_base import SampleList, SemiBaseSegmentor
from .unimatch import StrongTarget, strong_view_losses


@MODELS.register_module()
class UniMatchV2(SemiBaseSegmentor):
    """UniMatch V2 on top of any mmseg encoder-decoder (DINOv2 + DPT is the
    official architecture).

    One training step, as in the official code:

    1. The EMA teacher (eval mode, no gradients) predicts the weak view;
       arg-max and confidence are the pseudo-labels.
    2. Each strong view gets its own CutMix box; the partner of image ``i``
       is image ``N - 1 - i`` (the flipped batch). Pseudo-labels,
       confidences and valid masks are mixed the same way.
    3. The student predicts the labeled images: supervised loss ``L_x``.
    4. The student predicts both mixed strong views in one batch, with
       complementary channel dropout on every feature its head consumes
       (:func:`complementary_channel_masks`); each view's masked CE is
       normalised by its valid (non-padded) pixels.

    Loss (official weights)::

        L = sup_weight * L_x + strong_weight * (L_s1 + L_s2)

    ``sup_weight=0.5, strong_weight=0.25`` is the official
    ``(L_x + (L_s1 + L_s2) / 2) / 2``. The teacher follows the student
    through :class:`EMATeacherHook` (``momentum=0.004, ramp_up=True``:
    ``min(1 - 1 / (t + 1), 0.996)``, buffers averaged too).

    ``semi_train_cfg`` keys (defaults in :attr:`default_train_cfg`):
    ``conf_thresh``, the two weights, ``cutmix_prob``, ``kept_ratio``
    (share of images the channel dropout leaves whole) and
    ``strong_branches`` (exactly two views: the dropout is complementary
    between them).
    """

    default_train_cfg: Dict = dict(
        SemiBaseSegmentor.default_train_cfg,
        use_teacher=True,
        conf_thresh=0.95,
        sup_weight=0.5,
        strong_weight=0.25,
        cutmix_prob=0.5,
        kept_ratio=0.5,
        strong_branches=('unsup_strong1', 'unsup_strong2'))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        branches = self.semi_train_cfg['strong_branches']
        if len(branches) != 2:
            raise ValueError(
                'UniMatchV2: semi_train_cfg.strong_branches must name two '
                'strong views (the channel dropout is complementary between '
                f'them); got {list(branches)}')
        if not self.semi_train_cfg['use_teacher']:
            raise ValueError('UniMatchV2: semi_train_cfg.use_teacher must be '
                             'True; the EMA teacher gives the pseudo-labels')
        #: Draws the ``(2N, C)`` channel masks of the two strong views
        #: (replaceable, e.g. by a test that injects its own).
        self.channel_mask_sampler: Callable[..., Tensor] = \
            complementary_channel_masks

    def train_forward_batches(self, num_labeled: int,
                              num_unlabeled: int) -> Dict[str, int]:
        """Labeled images in one pass, both strong views in another."""
        return dict(student=min(num_labeled, 2 * num_unlabeled))

    def loss(self, inputs: Dict[str, Tensor],
             data_samples: Dict[str, SampleList]) -> dict:
        cfg = self.semi_train_cfg
        self.check_branches(inputs,
                            ['sup', 'unsup_weak', *cfg['strong_branches']])
        x_w = inputs['unsup_weak']
        valid = self.valid_mask(data_samples['unsup_weak'])

        # 1. teacher pseudo-labels on the weak view
        pseudo = self.eval_pseudo_labels(self.teacher, x_w, valid,
                                         cfg['conf_thresh'])
        self.record_pseudo_labels(x_w, pseudo, cfg['conf_thresh'])
        # 2. each strong view CutMix-ed with the flipped batch
        images, targets = self._mix_with_flipped_batch(inputs, pseudo, valid)
        # 3. supervised loss on the labeled images
        losses = self._supervised_losses(inputs['sup'], data_samples['sup'])
        # 4. both strong views with complementary channel dropout
        logits = self._complementary_dropout_logits(torch.cat(images))
        losses.update(strong_view_losses(
            self.upsample_logits(logits, x_w.shape[-2:]), targets,
            cfg['strong_weight'], normalize='valid'))

        hidden_gt = self.stack_seg(data_samples['unsup_weak'],
                                   'gt_unsup_sem_seg')
        losses.update(self.add_prefix(
            self.pseudo_label_diagnostics(pseudo, valid, hidden_gt,
                                          cfg['conf_thresh']), 'unsup'))
        return losses

    # ------------------------------------------------------------------
    def _mix_with_flipped_batch(
            self, inputs: Dict[str, Tensor], pseudo: PseudoLabels,
            valid: Tensor) -> Tuple[List[Tensor], List[StrongTarget]]:
        """Mixed strong images ``(N, 3, H, W)`` and their targets, one per
        strong branch."""
        cfg = self.semi_train_cfg
        num_u, _, height, width = inputs['unsup_weak'].shape
        images, targets = [], []
        for branch in cfg['strong_branches']:
            box = self.cutmix_sampler(num_u, height, width,
                                      prob=cfg['cutmix_prob'],
                                      device=valid.device)
            own = [inputs[branch], pseudo.labels, pseudo.conf, valid]
            image, labels, conf, mixed_valid = mix(
                box, own, [t.flip(0) for t in own])
            images.append(image)
            mask = (conf >= cfg['conf_thresh']) & mixed_valid
            targets.append(StrongTarget(labels, mask, mixed_valid))
        return images, targets

    def _supervised_losses(self, images: Tensor,
                           samples: SampleList) -> dict:
        """The wrapped segmentor's supervised losses of the labeled images,
        scaled by ``sup_weight``."""
        feats = self.student.extract_feat(images)
        logits, extra = split_head_output(self.student.decode_head,
                                          self.student.decode_head(feats))
        losses = self.supervised_loss(logits, feats, samples, extra)
        return self.add_prefix(
            self.scale_losses(losses, self.semi_train_cfg['sup_weight']),
            'sup')

    def _complementary_dropout_logits(self, images: Tensor) -> Tensor:
        """Student logits ``(2N, K, h, w)`` of both strong views (stacked),
        every feature the head reads multiplied by its view's channel
        mask."""
        num_u = images.shape[0] // 2
        masks: Dict[int, Tensor] = {}

        def mask_for(channels: int) -> Tensor:
            # one draw per width: levels of equal width share it, as the
            # official ViT features (all of one width) do
            if channels not in masks:
                masks[channels] = self.channel_mask_sampler(
                    num_u, channels, self.semi_train_cfg['kept_ratio'],
                    device=images.device)
            return masks[channels]

        feats = self.student.extract_feat(images)
        return decode_with_channel_masks(self.student.decode_head, feats,
                                         mask_for)

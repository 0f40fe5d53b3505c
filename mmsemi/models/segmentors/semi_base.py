"""Base wrapper that turns any mmseg segmentor into a semi-supervised one."""
import contextlib
import copy
import warnings
from typing import (Callable, Dict, Iterator, List, NamedTuple, Optional,
                    Sequence, Tuple, Union)

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import OptConfigType, OptMultiConfig

from ..utils.decode_head_streams import (ExtraOutputs, check_segmentor,
                                         decode_with_features,
                                         join_head_output, split_head_output)
from ..utils.mixing import cutmix_boxes
from ..utils.precision import float32_compute
from ..utils.pseudo_label import (PseudoLabels, class_probabilities,
                                  pseudo_labels_from_logits)
from .wrapped_cfg import UNSET, apply_segmentor_options

SampleList = List[SegDataSample]


class PseudoLabelRecord(NamedTuple):
    """Detached CPU copy of one step's weak-view pseudo-labels, kept only
    for visualisation (:class:`PseudoLabelVisualizationHook`).

    Attributes:
        images (Tensor): Normalised weak views ``(n, C, H, W)`` float, as
            the model received them.
        labels (Tensor): Pseudo-labels ``(n, H, W)`` long.
        conf (Tensor): Confidences ``(n, H, W)`` float.
        mask (Tensor): Pixels trained on ``(n, H, W)`` bool.
        threshold (float, optional): Confidence threshold of the step; None
            when it is not one number (a per-image threshold).
    """

    images: Tensor
    labels: Tensor
    conf: Tensor
    mask: Tensor
    threshold: Optional[float]


class Partner(NamedTuple):
    """Eval-mode prediction of each unlabeled image's CutMix partner (the
    previous image of the batch, cyclically), rolled so that row ``i``
    belongs to the partner of image ``i``.

    Attributes:
        logits (Tensor): ``(N, K, H, W)`` at the input size.
        labels (Tensor): Arg-max ``(N, H, W)`` long.
        conf (Tensor): Maximum probability ``(N, H, W)`` float32.
        valid (Tensor): Non-padded pixels ``(N, H, W)`` bool.
        features (Tensor, optional): Decoder features ``(N, C, h, w)`` of
            the same forward, when asked for.
    """

    logits: Tensor
    labels: Tensor
    conf: Tensor
    valid: Tensor
    features: Optional[Tensor]


MULTI_BRANCH_PREPROCESSOR = 'MultiBranchSegDataPreprocessor'


def multi_branch_preprocessor(data_preprocessor: OptConfigType,
                              segmentor: dict) -> dict:
    """The wrapper's data preprocessor config: always a multi-branch one.

    * ``None``: the segmentor's own preprocessor, wrapped.
    * A ``MultiBranchSegDataPreprocessor``: used as given.
    * Any other (single-branch) preprocessor: mmengine's Runner copies a
      config's top-level ``data_preprocessor`` into the model config when
      the model has none, and every stock mmseg config defines one (with the
      stock crop). The segmentor's own preprocessor (which the config may
      have adapted, e.g. to the method's crop) is wrapped when it has one;
      otherwise the given one is.

    Raises:
        KeyError: if neither the wrapper nor the segmentor has a data
            preprocessor.
    """
    if data_preprocessor is not None and \
            data_preprocessor.get('type') == MULTI_BRANCH_PREPROCESSOR:
        return data_preprocessor
    inner = segmentor.get('data_preprocessor') or data_preprocessor
    if inner is None:
        raise KeyError(
            'model.segmentor has no data_preprocessor and the wrapper none '
            'either; give the segmentor one (e.g. SegDataPreProcessor with '
            'the mean/std of its backbone and size=crop_size)')
    return dict(type=MULTI_BRANCH_PREPROCESSOR,
                data_preprocessor=copy.deepcopy(inner))


@MODELS.register_module()
class SemiBaseSegmentor(BaseSegmentor):
    """Semi-supervised wrapper around a stock mmseg segmentor.

    The student is built from ``segmentor`` (any mmseg segmentor config);
    when the method uses a mean teacher (``semi_train_cfg.use_teacher``) a
    frozen teacher is built from the same config and updated by
    :class:`EMATeacherHook`. Subclasses implement :meth:`loss` on the
    multi-branch batch ``inputs = {branch: (N, 3, H, W)}``.

    Inference is the wrapped segmentor's: :meth:`predict`, :meth:`_forward`,
    :meth:`extract_feat` and :meth:`encode_decode` go to the teacher or the
    student according to ``semi_test_cfg.predict_on``, so ``tools/test.py``,
    TTA and sliding-window testing work unchanged.

    ``semi_train_cfg`` keys are checked against :attr:`default_train_cfg`;
    a misspelt key raises an error that lists the accepted ones.

    Args:
        segmentor (dict): Config of the wrapped mmseg segmentor.
        semi_train_cfg (dict, optional): Method hyper-parameters.
        semi_test_cfg (dict, optional): ``predict_on`` ('teacher' or
            'student'); defaults to the teacher when there is one.
        data_preprocessor (dict, optional): A
            ``MultiBranchSegDataPreprocessor``; anything else (or None) is
            replaced by one wrapping the segmentor's own preprocessor, see
            :func:`multi_branch_preprocessor`.
        init_cfg (dict, optional): Initialisation config.
        pretrained (str, optional): Replaces the wrapped segmentor's
            ``pretrained``; ``None`` (set by ``mmseg.apis.init_model``)
            switches off all of its pretrained-weight loading. Not given:
            the segmentor config decides.
        train_cfg (dict, optional): Replaces the wrapped segmentor's
            ``train_cfg`` (``init_model`` sets ``None``). The method's own
            options are ``semi_train_cfg``.
    """

    #: Accepted ``semi_train_cfg`` keys and their defaults.
    default_train_cfg: Dict = dict(
        use_teacher=False,
        # 'eval': teacher BN uses running stats and dropout is off;
        # 'train': the teacher runs in train mode (U2PL, CSS).
        teacher_mode='eval')

    #: Deprecated ``semi_train_cfg`` keys: ``old -> new`` or ``old -> (new,
    #: convert)`` (``convert`` maps the old value to the new one). A dotted
    #: old name ``'part.key'`` is a key inside the nested dict ``part``.
    #: See :func:`rename_deprecated_keys`.
    deprecated_train_cfg_keys: Dict[str, Union[str, Tuple[str,
                                                           Callable]]] = {}

    #: Number of images :meth:`record_pseudo_labels` copies in the coming
    #: steps; 0 (the default) records nothing. Set by
    #: :class:`PseudoLabelVisualizationHook` before the steps it logs.
    pseudo_label_record_request: int = 0
    #: The latest record, or None.
    pseudo_label_record: Optional[PseudoLabelRecord] = None

    def __init__(self,
                 segmentor: dict,
                 semi_train_cfg: OptConfigType = None,
                 semi_test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None,
                 pretrained: Optional[str] = UNSET,
                 train_cfg: OptConfigType = UNSET) -> None:
        segmentor = apply_segmentor_options(segmentor, pretrained, train_cfg)
        data_preprocessor = multi_branch_preprocessor(data_preprocessor,
                                                      segmentor)
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.semi_train_cfg = self._merge_cfg(
            'semi_train_cfg', self.default_train_cfg,
            rename_deprecated_keys(semi_train_cfg,
                                   self.deprecated_train_cfg_keys,
                                   'semi_train_cfg'))
        self.check_choices(teacher_mode=('eval', 'train'))
        self.student = MODELS.build(copy.deepcopy(segmentor))
        check_segmentor(self.student, type(self).__name__)
        self.teacher: Optional[nn.Module] = None
        if self.semi_train_cfg['use_teacher']:
            self.teacher = MODELS.build(copy.deepcopy(segmentor))
            self.teacher.requires_grad_(False)
        self.semi_test_cfg = self._merge_cfg(
            'semi_test_cfg',
            dict(predict_on='teacher' if self.teacher else 'student'),
            semi_test_cfg)
        if self.semi_test_cfg['predict_on'] not in ('teacher', 'student'):
            raise ValueError(
                "semi_test_cfg.predict_on must be 'teacher' or 'student', "
                f"got {self.semi_test_cfg['predict_on']!r}")
        if self.semi_test_cfg['predict_on'] == 'teacher' and not self.teacher:
            raise ValueError("semi_test_cfg.predict_on='teacher' but "
                             f'{type(self).__name__} builds no teacher')
        self.align_corners = self.student.align_corners
        self.num_classes = self.student.num_classes
        self.out_channels = self.student.out_channels
        #: Draws the CutMix boxes, ``(num, height, width, prob=, area=,
        #: ratio=, device=) -> (num, height, width)`` bool, see
        #: :func:`cutmix_boxes`; replace it to fix the boxes (tests).
        self.cutmix_sampler: Callable[..., Tensor] = cutmix_boxes

    # ------------------------------------------------------------------
    # configuration
    @staticmethod
    def _merge_cfg(name: str, defaults: Dict, cfg: OptConfigType) -> Dict:
        cfg = dict(cfg or {})
        unknown = sorted(set(cfg) - set(defaults))
        if unknown:
            raise KeyError(f'{name} has unknown key(s) {unknown}; accepted '
                           f'keys are {sorted(defaults)}')
        return merge_method_cfg(defaults, cfg)

    def build_part(self, key: str, weight_key: Optional[str] = None,
                   **fill) -> nn.Module:
        """Build the part ``semi_train_cfg[key]`` (a head or a loss) with
        ``MODELS.build``, so its ``type`` is honoured.

        ``fill`` gives values the config leaves out (read from the student,
        e.g. ``num_classes``); the completed config is written back to
        ``semi_train_cfg[key]``. Every loss term is weighted by its
        ``semi_train_cfg.<term>_weight`` alone, so a part is built with
        ``loss_weight`` 1; a ``loss_weight`` in the part's config is
        deprecated and multiplies ``semi_train_cfg[weight_key]``, which is
        what it did before the weights moved.
        """
        cfg = dict(copy.deepcopy(self.semi_train_cfg[key]))
        for name, value in fill.items():
            cfg.setdefault(name, value)
        if 'loss_weight' in cfg:
            self._fold_part_loss_weight(key, weight_key,
                                        cfg.pop('loss_weight'))
        self.semi_train_cfg[key] = cfg
        return MODELS.build(copy.deepcopy(cfg))

    def _fold_part_loss_weight(self, key: str, weight_key: Optional[str],
                               loss_weight: float) -> None:
        if weight_key is None:
            raise KeyError(f'semi_train_cfg.{key} takes no loss_weight: '
                           'weight its loss terms with their '
                           'semi_train_cfg.*_weight keys')
        new = self.semi_train_cfg[weight_key] * loss_weight
        warnings.warn(
            f'semi_train_cfg.{key}.loss_weight is deprecated: every loss '
            f'term is weighted by its semi_train_cfg.*_weight alone. Using '
            f'semi_train_cfg.{weight_key}={new} '
            f'({self.semi_train_cfg[weight_key]} * {loss_weight})',
            FutureWarning)
        self.semi_train_cfg[weight_key] = new

    def check_choices(self, **choices: Sequence) -> None:
        """Raise if a ``semi_train_cfg`` value is not among its choices,
        e.g. ``check_choices(kl_target=('weak_unmixed', 'mixed'))``."""
        for key, allowed in choices.items():
            value = self.semi_train_cfg[key]
            if value not in allowed:
                raise ValueError(f'semi_train_cfg.{key} must be one of '
                                 f'{tuple(allowed)}; got {value!r}')

    # ------------------------------------------------------------------
    # module state
    def train(self, mode: bool = True) -> 'SemiBaseSegmentor':
        """Set train/eval mode; the teacher follows ``teacher_mode``.

        mmengine calls ``model.train()`` every iteration, which would put a
        frozen teacher's BN back into train mode; this keeps it where the
        method wants it.
        """
        super().train(mode)
        if self.teacher is not None:
            teacher_mode = self.semi_train_cfg['teacher_mode']
            self.teacher.train(mode and teacher_mode == 'train')
        return self

    def _load_from_state_dict(self, state_dict: dict, prefix: str,
                              local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        """Accept plain (un-wrapped) segmentor checkpoints.

        A checkpoint without ``student.``/``teacher.`` keys (for example a
        supervised warm-up) is loaded into the student and the teacher.
        """
        own = [k for k in state_dict if k.startswith(prefix)]
        wrapped = any(
            k[len(prefix):].split('.', 1)[0] in ('student', 'teacher')
            for k in own)
        if own and not wrapped:
            targets = ['student'] + (['teacher'] if self.teacher else [])
            for key in own:
                value = state_dict.pop(key)
                rest = key[len(prefix):]
                for target in targets:
                    state_dict[f'{prefix}{target}.{rest}'] = value
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, unexpected_keys,
                                      error_msgs)

    # ------------------------------------------------------------------
    # start-up checks
    def train_forward_batches(self, num_labeled: int,
                              num_unlabeled: int) -> Dict[str, int]:
        """The smallest batch each network (``'student'``, ``'teacher'``)
        runs on in train mode, for ``num_labeled`` + ``num_unlabeled``
        images per process. Methods that forward a part of the batch alone
        override this (the default: the student sees both together, a
        train-mode teacher the unlabeled images)."""
        batches = dict(student=num_labeled + num_unlabeled)
        if self.teacher is not None and \
                self.semi_train_cfg['teacher_mode'] == 'train':
            batches['teacher'] = num_unlabeled
        return batches

    def check_train_batch(self, num_labeled: int, num_unlabeled: int,
                          world_size: int = 1) -> None:
        """Refuse a per-process batch that a train-mode network cannot take.

        BatchNorm in train mode needs more than one value per channel; a
        layer after a global pooling (ASPP's image pool, PPM's 1x1 bin) sees
        one per image, so a network run on a single image stops at its first
        step. Each network whose smallest batch
        (:meth:`train_forward_batches`) is one image is probed once, in eval
        mode on one blank image of the crop size (no state changes), for
        such layers. SyncBN over several processes pools their batches and
        is fine.

        Raises:
            ValueError: naming the network, the layers, the reason and the
                fix.
        """
        problems = []
        for name, batch in self.train_forward_batches(
                num_labeled, num_unlabeled).items():
            if batch >= 2:
                continue
            layers = single_value_bn_layers(
                getattr(self, name), self._probe_size(), world_size)
            if layers:
                shown = ', '.join(f'{name}.{layer}' for layer in layers[:3])
                more = ' ...' if len(layers) > 3 else ''
                problems.append(f'its {name} runs in train mode on {batch} '
                                f'image(s) ({shown}{more})')
        if problems:
            raise ValueError(
                f'{type(self).__name__} cannot train with {num_labeled} '
                f'labeled + {num_unlabeled} unlabeled image(s) per process: '
                f'{"; ".join(problems)}, and these BatchNorm layers, after a '
                'global pooling, then see one value per channel, which '
                'BatchNorm cannot normalise. Use at least 2 labeled and 2 '
                'unlabeled images per process (train_dataloader.batch_size '
                'and train_dataloader.sampler.batch_size, split by the '
                "sampler's source_ratio), or SyncBN over several processes")

    def _probe_size(self) -> Tuple[int, int]:
        """Input size of the start-up probe: the crop the preprocessor pads
        to, else 512 x 512."""
        inner = getattr(self.data_preprocessor, 'data_preprocessor',
                        self.data_preprocessor)
        size = getattr(inner, 'size', None)
        return tuple(size) if size else (512, 512)

    # ------------------------------------------------------------------
    # inference routing
    @property
    def inference_model(self) -> BaseSegmentor:
        """The segmentor chosen by ``semi_test_cfg.predict_on``."""
        if self.semi_test_cfg['predict_on'] == 'teacher':
            return self.teacher
        return self.student

    @property
    def decode_head(self) -> BaseModule:
        return self.inference_model.decode_head

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        return self.inference_model.extract_feat(inputs)

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]):
        return self.inference_model.encode_decode(inputs, batch_img_metas)

    def predict(self, inputs: Tensor,
                data_samples: Optional[SampleList] = None) -> SampleList:
        return self.inference_model.predict(inputs, data_samples)

    def _forward(self, inputs: Tensor,
                 data_samples: Optional[SampleList] = None):
        return self.inference_model._forward(inputs, data_samples)

    def loss(self, inputs: Dict[str, Tensor],
             data_samples: Dict[str, SampleList]) -> dict:
        raise NotImplementedError(
            f'{type(self).__name__} must implement loss()')

    # ------------------------------------------------------------------
    # helpers shared by the methods
    @property
    def ignore_index(self) -> int:
        """The label value the student's decode head ignores."""
        return self.student.decode_head.ignore_index

    def upsample_logits(self, logits: Tensor, size: Sequence[int]) -> Tensor:
        """Resize decoder logits ``(N, K, h, w)`` to the input ``size``, in
        float32 (every use is a pseudo-label, a confidence or a loss,
        which compute in float32 under autocast anyway)."""
        return upsample_float32(logits, tuple(size), self.align_corners)

    @staticmethod
    @contextlib.contextmanager
    def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
        """Run ``model`` in eval mode (BN running statistics, no dropout)
        inside the block; its mode is restored afterwards."""
        was_training = model.training
        model.eval()
        try:
            yield model
        finally:
            model.train(was_training)

    @staticmethod
    def forward_logits(model: nn.Module, inputs: Tensor) -> Tensor:
        """Decoder logits ``(N, K, h, w)`` of ``model`` (in its current
        mode): the head's output, or its first output for heads that return
        several, as stock mmseg predicts with it."""
        return split_head_output(model.decode_head, model._forward(inputs))[0]

    @torch.no_grad()
    def eval_logits(self, model: nn.Module, inputs: Tensor) -> Tensor:
        """Logits ``(N, K, H, W)`` of ``model`` in eval mode (BN running
        statistics, no dropout) at the input size; the model's mode is
        restored afterwards."""
        with self.eval_mode(model):
            logits = self.forward_logits(model, inputs)
        return self.upsample_logits(logits, inputs.shape[-2:])

    @torch.no_grad()
    def eval_features_and_logits(self, model: nn.Module, inputs: Tensor,
                                 prefer: Sequence[str] = ()
                                 ) -> Tuple[Tensor, Tensor]:
        """Like :meth:`eval_logits`, also returning the decoder features
        ``(N, C, h, w)`` read by :func:`decode_with_features` (``prefer``
        names the feature point)."""
        with self.eval_mode(model):
            features, logits = decode_with_features(
                model.decode_head, model.extract_feat(inputs), prefer)
        return features, self.upsample_logits(logits, inputs.shape[-2:])

    @torch.no_grad()
    def eval_pseudo_labels(self, model: nn.Module, inputs: Tensor,
                           valid: Tensor,
                           threshold: Union[float, Tensor] = 0.0
                           ) -> PseudoLabels:
        """Pseudo-labels ``(N, H, W)`` of ``model`` in eval mode on
        ``inputs``; ``threshold`` 0 keeps every valid pixel."""
        return pseudo_labels_from_logits(self.eval_logits(model, inputs),
                                         threshold, valid)

    @torch.no_grad()
    def partner_predictions(
            self,
            x_w: Tensor,
            valid: Tensor,
            feature_point: Optional[Sequence[str]] = None) -> Partner:
        """Eval-mode student prediction of every weak view ``(N, 3, H, W)``,
        rolled to the image it is CutMix-ed into (image ``i`` takes its
        patch from image ``i - 1``). ``feature_point`` (a ``prefer`` tuple
        of :func:`decode_with_features`) also returns decoder features."""
        features = None
        if feature_point is None:
            logits = self.eval_logits(self.student, x_w)
        else:
            features, logits = self.eval_features_and_logits(
                self.student, x_w, feature_point)
            features = features.roll(1, dims=0)
        logits = logits.roll(1, dims=0)
        conf, labels = class_probabilities(logits).max(dim=1)
        return Partner(logits, labels, conf, valid.roll(1, dims=0), features)

    @staticmethod
    def check_branches(inputs: Dict[str, Tensor],
                       branches: Sequence[str]) -> None:
        """Raise a clear error when the batch lacks a branch the method
        needs (a ``branch_field``/``MultiBranch`` mismatch in the config)."""
        missing = [b for b in branches if b not in inputs]
        if missing:
            raise KeyError(
                f'the training batch has no branch {missing}; it has '
                f'{sorted(inputs)}. Check branch_field and the MultiBranch '
                'pipelines of the labeled and unlabeled datasets')

    def valid_mask(self, samples: SampleList) -> Tensor:
        """Non-padded pixels ``(N, H, W)`` of unlabeled samples, read from
        the empty label written by ``LoadUnlabeledAnnotations`` and padded
        with the ignore index by the data preprocessor."""
        marker = self.stack_seg(samples)
        if marker is None:
            raise ValueError(
                'unlabeled samples carry no gt_sem_seg; add '
                'LoadUnlabeledAnnotations to the unlabeled pipeline so '
                'padding can be told from image content')
        return marker != self.ignore_index

    @staticmethod
    def stack_seg(samples: SampleList, field: str = 'gt_sem_seg'
                  ) -> Optional[Tensor]:
        """Stack a ``PixelData`` field of the samples into ``(N, H, W)``
        long, or return None when any sample lacks it."""
        maps = [s.get(field, None) for s in samples]
        if any(m is None for m in maps):
            return None
        return torch.stack([m.data[0] for m in maps]).long()

    def supervised_loss(self, logits: Tensor, feats: Sequence[Tensor],
                        samples: SampleList,
                        extra_outputs: ExtraOutputs = None) -> dict:
        """Supervised losses of the student on labeled images.

        Uses the criteria of the wrapped config (CE, OHEM through the decode
        head's sampler, ...), applied by the decode head's ``loss_by_feat``
        to decoder ``logits`` ``(N, K, h, w)`` already computed by the
        method, together with the head's other outputs of the same images
        for heads that return several (``extra_outputs``, e.g. DAHead's PAM
        and CAM logits, EncHead's SE logits), plus the auxiliary heads on
        the labeled backbone ``feats``.
        """
        student = self.student
        losses = self.add_prefix(
            student.decode_head.loss_by_feat(
                join_head_output(logits, extra_outputs), samples), 'decode')
        if student.with_auxiliary_head:
            losses.update(
                student._auxiliary_head_forward_train(feats, samples))
        return losses

    def record_pseudo_labels(self, images: Tensor, pseudo: PseudoLabels,
                             threshold: Union[float, Tensor]) -> None:
        """Keep the weak view and its pseudo-labels for visualisation.

        Every method calls this once per step, right after computing the
        weak-view pseudo-labels. It does nothing unless
        :attr:`pseudo_label_record_request` asks for images, so ordinary
        steps pay no copy and no device synchronisation.

        Args:
            images (Tensor): Normalised weak views ``(N, C, H, W)``.
            pseudo (PseudoLabels): Their pseudo-labels, each ``(N, H, W)``;
                ``mask`` holds the pixels the unsupervised loss trains on.
            threshold (float | Tensor): Confidence threshold used for
                ``mask``; a 0-d tensor is read, any other tensor is not.
        """
        num = int(self.pseudo_label_record_request)
        if num <= 0:
            return
        if isinstance(threshold, Tensor):
            threshold = float(threshold) if threshold.dim() == 0 else None
        self.pseudo_label_record = PseudoLabelRecord(
            *(t[:num].detach().cpu()
              for t in (images.float(), pseudo.labels, pseudo.conf.float(),
                        pseudo.mask)),
            threshold=threshold)

    @staticmethod
    def pseudo_label_diagnostics(pseudo: PseudoLabels, valid: Tensor,
                                 hidden_gt: Optional[Tensor],
                                 threshold: Union[float, Tensor],
                                 ignore_index: int = 255) -> Dict[str, Tensor]:
        """Logged (not summed) statistics of the pseudo-labels.

        ``threshold`` is the confidence threshold in use and ``mask_ratio``
        the share of valid pixels it keeps.
        When the unlabeled ground truth is available (``hidden_gt``, only
        ever used here), ``pl_acc`` is the accuracy of the kept
        pseudo-labels and ``pl_acc_all`` that of all valid ones.
        """
        valid_count = valid.sum().clamp(min=1)
        stats = dict(mask_ratio=pseudo.mask.sum() / valid_count,
                     threshold=scalar_tensor(threshold, valid.device))
        if hidden_gt is not None:
            labelled = hidden_gt != ignore_index
            correct = (pseudo.labels == hidden_gt) & labelled
            kept = pseudo.mask & labelled
            stats['pl_acc'] = (correct & kept).sum() / kept.sum().clamp(min=1)
            seen = valid & labelled
            stats['pl_acc_all'] = \
                (correct & seen).sum() / seen.sum().clamp(min=1)
        return {k: v.float().detach() for k, v in stats.items()}

    @staticmethod
    def add_prefix(losses: dict, prefix: str) -> dict:
        return {f'{prefix}.{k}': v for k, v in losses.items()}

    @staticmethod
    def scale_losses(losses: dict, weight: float) -> dict:
        """Multiply the entries whose key holds 'loss' by ``weight``."""
        return {k: v * weight if 'loss' in k else v for k, v in losses.items()}


def merge_method_cfg(defaults: Dict, cfg: Dict) -> Dict:
    """The one merge rule of a method's config with its defaults.

    A key the config gives replaces the default, except a nested part
    config (a dict, e.g. ``rep_head``, ``contrast``, ``rank_loss``) of the
    same ``type`` as the default's (or without a ``type``): its keys update
    the default's, so a config states only what differs. A part of another
    ``type`` replaces the default wholesale (the defaults' kwargs belong to
    the default type).
    """
    out = copy.deepcopy(dict(defaults))
    for key, value in cfg.items():
        default = out.get(key)
        same_type = isinstance(default, dict) and isinstance(value, dict) \
            and value.get('type', default.get('type')) == default.get('type')
        out[key] = {**default, **copy.deepcopy(value)} if same_type \
            else copy.deepcopy(value)
    return out


def rename_deprecated_keys(cfg: OptConfigType,
                           renames: Dict[str, Union[str, Tuple[str,
                                                               Callable]]],
                           owner: str) -> Dict:
    """A copy of ``cfg`` with deprecated keys moved to their new names.

    Each renamed key warns (``FutureWarning``) naming the old and the new
    key; giving both raises, since it is unclear which one is meant.

    Args:
        cfg (dict, optional): The user's config (not modified).
        renames (dict): ``old -> new`` or ``old -> (new, convert)``; a
            dotted ``old`` (``'rank_loss.loss_weight'``) is a key inside
            the nested dict named before the dot, moved to the top level.
        owner (str): Name of the config in the messages.

    Raises:
        KeyError: if the old and the new name are both given.
    """
    cfg = copy.deepcopy(dict(cfg or {}))
    for old, target in renames.items():
        new, convert = (target, None) if isinstance(target, str) else target
        part, _, key = old.rpartition('.')
        holder = cfg.get(part) if part else cfg
        if not isinstance(holder, dict) or key not in holder:
            continue
        if new in cfg:
            raise KeyError(f'{owner}.{old} is the deprecated name of '
                           f'{owner}.{new}; give only {new}')
        value = holder.pop(key)
        warnings.warn(f'{owner}.{old} is deprecated; use {owner}.{new}',
                      FutureWarning)
        cfg[new] = convert(value) if convert else value
    return cfg


def scalar_tensor(value: Union[float, Tensor],
                  device: torch.device) -> Tensor:
    """A 0-d float32 tensor of a logged value on ``device``: a Python
    number is filled in on the device (``torch.tensor(value, device=...)``
    would copy it from the host, which waits for the device), a tensor is
    detached and moved."""
    if isinstance(value, Tensor):
        return value.detach().to(device=device, dtype=torch.float32)
    return torch.full((), float(value), dtype=torch.float32, device=device)


@float32_compute
def upsample_float32(logits: Tensor, size: Tuple[int, int],
                     align_corners: bool) -> Tensor:
    """Bilinear resize of ``(N, K, h, w)`` logits to ``size``, float32."""
    return resize(logits, size=size, mode='bilinear',
                  align_corners=align_corners)


def single_value_bn_layers(model: nn.Module, size: Sequence[int],
                           world_size: int = 1) -> List[str]:
    """Names of the BatchNorm layers of ``model`` whose input has one value
    per channel when ``model._forward`` runs on one image of ``size``.

    The forward runs in eval mode without gradients, so no running
    statistic changes. SyncBN layers count only on a single process.
    """
    hits: List[str] = []

    def record(name):
        def hook(module, args):
            x = args[0]
            if x.numel() == x.shape[1]:
                hits.append(name)
        return hook

    handles = [
        module.register_forward_pre_hook(record(name))
        for name, module in model.named_modules()
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not (
            isinstance(module, nn.SyncBatchNorm) and world_size > 1)
    ]
    if not handles:
        return hits
    param = next(model.parameters(), None)
    device = param.device if param is not None else 'cpu'
    try:
        with torch.no_grad(), SemiBaseSegmentor.eval_mode(model):
            model._forward(torch.zeros(1, 3, *size, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return hits

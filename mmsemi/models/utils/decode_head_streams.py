"""What the methods ask of a stock mmseg decode head.

Every semi-supervised method reaches the segmentor only through these
functions, so any ``EncoderDecoder`` whose decode head is a
``BaseDecodeHead`` (PSPHead, ASPPHead, UPerHead, SegformerHead,
DepthwiseSeparableASPPHead, mmsemi's SemiDeepLabV3PlusHead, ...) can be the
student:

- :func:`decode_with_perturbation`: UniMatch's feature-perturbation stream,
  the head's own forward on channel-dropped backbone features;
- :func:`decode_with_features`: logits and the decoder features that enter
  the head's classifier ``cls_seg`` (or a named point a head exposes);
- :func:`check_segmentor`: the build-time check that a segmentor offers
  both.

A backbone output is a feature map ``(N, C, h, w)`` or, from mmseg's
``VisionTransformer`` with ``output_cls_token=True`` (what mmseg's
``DPTHead`` reads), a ``[feature map, class token]`` pair
(:data:`Feature`). Perturbation, batch rows (:func:`feature_rows`) and
the feature map alone (:func:`feature_map`) all go through
:func:`map_feature`, which keeps the pair a pair and drops only the map.

Heads whose forward returns several outputs (mmseg's ``DAHead``:
``(pam_cam, pam, cam)``; ``EncHead`` with ``use_se_loss``: ``(seg, se)``)
are used as stock mmseg uses them: the first output is the logits (their
``predict`` takes ``forward(...)[0]``), the whole tuple goes to their
``loss_by_feat`` (:func:`split_head_output`, :func:`join_head_output`).
"""
import contextlib
from typing import (Callable, Dict, Iterator, List, Optional, Sequence,
                    Tuple, Union)

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.models.decode_heads import (DPTHead, Mask2FormerHead,
                                      MaskFormerHead, PIDHead,
                                      SideAdapterCLIPHead)
from mmseg.models.decode_heads.decode_head import BaseDecodeHead

#: Outputs of a decode head forward besides its logits (each with the
#: images along dim 0), or None for a head that returns only logits.
ExtraOutputs = Optional[Tuple[Tensor, ...]]

#: Stock mmseg heads that cannot be a method's student, with the reason.
#: Checked before the BaseDecodeHead test, since some of them derive
#: from it.
UNSUPPORTED_HEADS = (
    ((MaskFormerHead, Mask2FormerHead, SideAdapterCLIPHead),
     'is a mask-classification head: it predicts a set of masks with one '
     'class each instead of per-pixel class logits, and has no per-pixel '
     'classifier cls_seg whose input the methods read as decoder features. '
     'MaskFormer, Mask2Former and SAN segmentors are not supported'),
    ((PIDHead, ),
     'returns (P, I, D) branch outputs in train mode with the logits second '
     'and a single map in eval mode, so its train-mode logits are not '
     'its first output as the methods read them. PIDNet is not supported'),
)


def check_segmentor(segmentor: nn.Module, method: str) -> None:
    """Raise a clear error when ``segmentor`` cannot be a method's student.

    A student needs ``extract_feat`` and one ``BaseDecodeHead`` (with
    ``cls_seg``) as ``decode_head``. Refused here, at build time, each with
    its reason: cascade segmentors (a list of heads), the heads of
    :data:`UNSUPPORTED_HEADS` (mask classification, PIDNet), other heads
    outside ``BaseDecodeHead``, heads without a classifier, and heads fed
    another feature form than they read (:func:`check_feature_form`).
    """
    name = type(segmentor).__name__
    missing = [attr for attr in ('extract_feat', 'decode_head')
               if not hasattr(segmentor, attr)]
    if missing:
        raise TypeError(
            f'{method} needs an encoder-decoder segmentor with extract_feat '
            f'and decode_head; {name} lacks {", ".join(missing)}')
    head = segmentor.decode_head
    head_name = type(head).__name__
    if isinstance(head, nn.ModuleList):
        raise TypeError(
            f'{method} needs a single decode head; {name}.decode_head is a '
            f'list of {len(head)} heads, each refining the previous one\'s '
            'output. Cascade segmentors (CascadeEncoderDecoder: OCRNet, '
            'PointRend) are not supported')
    for classes, reason in UNSUPPORTED_HEADS:
        if isinstance(head, classes):
            raise TypeError(f'{method}: decode head {head_name} {reason}')
    if not isinstance(head, BaseDecodeHead):
        raise TypeError(
            f'{method} needs a decode head derived from mmseg\'s '
            f'BaseDecodeHead (it provides cls_seg, the classifier whose '
            f'input is the decoder feature); {name}.decode_head is a '
            f'{head_name}')
    if not callable(getattr(head, 'cls_seg', None)) or \
            not isinstance(getattr(head, 'conv_seg', None), nn.Conv2d):
        raise TypeError(
            f'{method}: decode head {head_name} has no cls_seg '
            'classifier with a conv_seg Conv2d; the methods read decoder '
            'features at its input')
    check_feature_form(segmentor, method)


#: Stock heads that read ``[feature map, class token]`` pairs; every other
#: head reads feature maps.
PAIR_HEADS = (DPTHead, )


def backbone_gives_pairs(segmentor: nn.Module) -> bool:
    """Whether ``segmentor.extract_feat`` returns ``[map, cls_token]``
    pairs: a backbone declaring ``output_cls_token=True`` (mmseg's
    ``VisionTransformer``) and no neck (mmseg's necks return maps)."""
    return not getattr(segmentor, 'with_neck', False) and bool(
        getattr(getattr(segmentor, 'backbone', None), 'output_cls_token',
                False))


def _heads(segmentor: nn.Module) -> List[Tuple[str, nn.Module]]:
    """``(role, head)`` of the decode head and every auxiliary head."""
    heads = [('decode head', segmentor.decode_head)]
    aux = getattr(segmentor, 'auxiliary_head', None)
    if aux is not None:
        heads += [('auxiliary head', h) for h in
                  (aux if isinstance(aux, nn.ModuleList) else [aux])]
    return heads


def check_feature_form(segmentor: nn.Module, method: str) -> None:
    """Raise when a head reads another feature form than the backbone
    gives: mmseg's ``DPTHead`` on feature maps (it would take the batch
    apart as ``[map, cls_token]``), or a map-reading head on mmseg ViT's
    ``[map, cls_token]`` pairs."""
    pairs = backbone_gives_pairs(segmentor)
    source = type(getattr(segmentor, 'backbone', segmentor)).__name__
    if getattr(segmentor, 'with_neck', False):
        source += f' + neck {type(segmentor.neck).__name__}'
    for role, head in _heads(segmentor):
        head_name = type(head).__name__
        if isinstance(head, PAIR_HEADS) and not pairs:
            raise TypeError(
                f'{method}: {role} {head_name} reads [feature map, class '
                f'token] pairs; {source} gives feature maps (N, C, h, w), '
                'which it would take apart along the batch (pairs come '
                'from a backbone with output_cls_token=True, such as '
                'mmseg\'s VisionTransformer, and no neck). Use that '
                'backbone setting, or UniMatchV2DPTHead, which reads '
                'feature maps')
        if pairs and not isinstance(head, PAIR_HEADS):
            raise TypeError(
                f'{method}: {role} {head_name} reads feature maps (N, C, '
                f'h, w); {source} gives [feature map, class token] pairs '
                '(output_cls_token=True). Set output_cls_token=False, or '
                'use a head that reads pairs (mmseg\'s DPTHead)')


def split_head_output(head: nn.Module, out) -> Tuple[Tensor, ExtraOutputs]:
    """Logits and other outputs of one decode head forward.

    A head returns its logits ``(N, K, h, w)``, or a tuple whose first
    entry is the logits, as stock mmseg reads it (``DAHead.predict`` and
    ``EncHead.predict`` use ``forward(...)[0]``; e.g. EncHead's second
    output is the SE logits ``(N, K)``).

    Returns:
        tuple: the logits and :data:`ExtraOutputs` (None for a tensor, the
        remaining entries for a tuple).

    Raises:
        TypeError: for any other output.
    """
    if isinstance(out, Tensor):
        return out, None
    if isinstance(out, (tuple, list)) and out and \
            all(isinstance(o, Tensor) for o in out) and out[0].dim() == 4:
        return out[0], tuple(out[1:])
    raise TypeError(
        f'decode head {type(head).__name__}.forward returned '
        f'{_describe(out)}; the methods need logits (N, K, h, w), alone or '
        'as the first of a tuple of tensors')


def _describe(out) -> str:
    if isinstance(out, Tensor):
        return f'a tensor of shape {tuple(out.shape)}'
    if isinstance(out, (tuple, list)):
        return (f'a {type(out).__name__} of '
                f'[{", ".join(_describe(o) for o in out)}]')
    return f'a {type(out).__name__}'


def join_head_output(logits: Tensor, extra: ExtraOutputs):
    """The head's output form again (inverse of :func:`split_head_output`),
    as its ``loss_by_feat`` takes it."""
    return logits if extra is None else (logits, *extra)


def extra_rows(extra: ExtraOutputs, index: slice) -> ExtraOutputs:
    """The images ``index`` (dim 0) of every extra output."""
    return None if extra is None else tuple(e[index] for e in extra)


def pixel_loss_by_feat(head: BaseDecodeHead, logits: Tensor,
                       samples) -> dict:
    """The head's per-pixel criterion (``loss_decode``, OHEM sampler, ...)
    on one logits map ``(N, K, h, w)`` against ``samples``' labels:
    ``BaseDecodeHead.loss_by_feat``, which heads with several outputs apply
    to their logits output (DAHead to each map, EncHead to the first)."""
    return BaseDecodeHead.loss_by_feat(head, logits, samples)


#: One backbone output as a decode head reads it: a feature map
#: ``(N, C, h, w)``, or the ``[feature map (N, C, h, w), class token
#: (N, C)]`` pair of mmseg's ``VisionTransformer`` with
#: ``output_cls_token=True`` (what mmseg's ``DPTHead`` reads).
Feature = Union[Tensor, List[Tensor]]


def is_feature_pair(feat) -> bool:
    """Whether ``feat`` is a ``[map (N, C, h, w), cls_token (N, C)]``
    pair."""
    return isinstance(feat, (list, tuple)) and len(feat) == 2 and \
        all(isinstance(t, Tensor) for t in feat) and \
        feat[0].dim() == 4 and feat[1].dim() == 2


def map_feature(feat: Feature, on_map: Callable[[Tensor], Tensor],
                on_token: Optional[Callable[[Tensor], Tensor]] = None
                ) -> Feature:
    """``feat`` in the same form with ``on_map`` applied to its feature
    map and ``on_token`` (default ``on_map``) to its class token, if any.

    The one place that knows the forms of :data:`Feature`: feature
    perturbation, batch rows and concatenation go through it.

    Raises:
        TypeError: for anything but a feature map or a pair.
    """
    if isinstance(feat, Tensor):
        return on_map(feat)
    if is_feature_pair(feat):
        return [on_map(feat[0]), (on_token or on_map)(feat[1])]
    raise TypeError(
        f'a backbone output is {_describe(feat)}; expected a feature map '
        '(N, C, h, w) or a [feature map (N, C, h, w), class token (N, C)] '
        'pair')


def feature_map(feat: Feature) -> Tensor:
    """The feature map ``(N, C, h, w)`` of one backbone output."""
    return feat if isinstance(feat, Tensor) else \
        map_feature(feat, lambda t: t)[0]


def feature_rows(feats: Sequence[Feature], index) -> List[Feature]:
    """The images ``index`` (dim 0) of every backbone output, pairs kept
    as pairs (e.g. the labeled rows for the auxiliary heads)."""
    return [map_feature(f, lambda t: t[index]) for f in feats]


class _HeadReadFeatures(list):
    """Backbone features, each transformed when the decode head reads it.

    Indexing feature ``i`` returns ``transform(f_i)``, computed the first
    time the head reads it. So exactly the features the head consumes are
    transformed, in the order it reads them (``in_index`` order, then any
    direct reads such as DepthwiseSeparableASPPHead's ``inputs[0]``), and
    random draws happen once per feature read. The underlying list keeps
    the untransformed features.
    """

    def __init__(self, feats: Sequence[Feature],
                 transform: Callable[[Feature], Feature]) -> None:
        super().__init__(feats)
        self._transform = transform
        self._read = {}

    def _index(self, index: int) -> int:
        size = super().__len__()
        if not -size <= index < size:
            raise IndexError(f'feature index {index} out of range for '
                             f'{size} backbone outputs')
        return index % size

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        index = self._index(index)
        if index not in self._read:
            self._read[index] = self._transform(super().__getitem__(index))
        return self._read[index]

    def __iter__(self) -> Iterator[Feature]:
        return (self[i] for i in range(len(self)))


def _clean_and_dropped(dropout: float) -> Callable[[Feature], Feature]:
    """``f -> cat([f, Dropout2d(dropout)(f)])`` on the feature map ``(N, C,
    h, w) -> (2N, C, h, w)``: clean and perturbed halves of one batch (code
    that bypasses indexing meets a batch-size mismatch instead of silently
    unperturbed features); a class token is repeated, not dropped."""
    return lambda feat: map_feature(
        feat,
        lambda m: torch.cat([m, F.dropout2d(m, dropout, training=True)]),
        lambda t: torch.cat([t, t]))


def decode_with_perturbation(head: nn.Module,
                             feats: Sequence[Feature],
                             dropout: float = 0.5,
                             return_features: bool = False,
                             prefer: Sequence[str] = (),
                             return_extra: bool = False) -> tuple:
    """Clean and feature-perturbed logits of one decode head, one batch.

    The perturbation is ``Dropout2d(dropout)`` (always active, rescaled by
    ``1 / (1 - dropout)``) on each backbone feature the head consumes, as
    UniMatch's official model does to ``c1`` and ``c4``; clean and dropped
    features go through the head's normal forward together, so its BN sees
    both halves.

    Args:
        head (nn.Module): A ``BaseDecodeHead``.
        feats (Sequence[Feature]): Backbone outputs, each a map ``(N, C_i,
            h_i, w_i)`` or a ``[map, cls_token]`` pair (:data:`Feature`).
        dropout (float): Channel-drop probability.
        return_features (bool): Also return the decoder features of the
            clean half, read as :func:`decode_with_features` reads them
            (``prefer`` names the feature point). Defaults to False.
        prefer (Sequence[str]): Feature points, see
            :func:`decode_with_features`.
        return_extra (bool): Also return the clean half's other outputs
            (:data:`ExtraOutputs`, see :func:`split_head_output`), which
            the supervised loss of heads with several outputs needs.

    Returns:
        tuple: clean and perturbed logits, each ``(N, K, h, w)``, then
        (with ``return_features``) the clean decoder features
        ``(N, C, h', w')``, then (with ``return_extra``) the clean extra
        outputs.
    """
    perturbed = _HeadReadFeatures(feats, _clean_and_dropped(dropout))
    if return_features:
        features, logits, extra = _decode(head, perturbed, prefer)
    else:
        logits, extra = split_head_output(head, head(perturbed))
    result = logits.chunk(2)
    if return_features:
        result += (features.chunk(2)[0], )
    if return_extra:
        clean = None if extra is None else tuple(e.chunk(2)[0] for e in extra)
        result += (clean, )
    return result


@contextlib.contextmanager
def _capture_classifier_input(head: nn.Module) -> Iterator[List[Tensor]]:
    """Record the tensors passed to ``head.cls_seg`` while inside."""
    captured: List[Tensor] = []
    classify = head.cls_seg

    def cls_seg(feat: Tensor) -> Tensor:
        captured.append(feat)
        return classify(feat)

    head.cls_seg = cls_seg
    try:
        yield captured
    finally:
        del head.cls_seg  # the class's method is visible again


#: Named feature points of stock mmseg heads: point -> submodule whose
#: output it is. A head of mmsemi's declares its own in a
#: ``feature_points`` attribute of the same form.
STOCK_FEATURE_POINTS: Dict[str, Dict[str, str]] = {
    'ASPPHead': {'aspp': 'bottleneck'},
    'DepthwiseSeparableASPPHead': {'aspp': 'bottleneck'},
}


def _feature_points(head: nn.Module) -> Dict[str, str]:
    return getattr(head, 'feature_points',
                   STOCK_FEATURE_POINTS.get(type(head).__name__, {}))


def _feature_point_name(head: nn.Module,
                        prefer: Sequence[str]) -> Optional[str]:
    """The first of the ``prefer`` feature points the head exposes."""
    return next((name for name in prefer if name in _feature_points(head)),
                None)


def feature_point_module(head: nn.Module,
                         prefer: Sequence[str]) -> Optional[nn.Module]:
    """The submodule giving the first of the ``prefer`` feature points the
    head exposes, or None (then the classifier input is used)."""
    name = _feature_point_name(head, prefer)
    if name is None:
        return None
    return head.get_submodule(_feature_points(head)[name])


def decoder_feature_channels(head: nn.Module,
                             prefer: Sequence[str] = ()) -> int:
    """Channels of the features :func:`decode_with_features` returns for
    ``prefer``: a named point's (``feature_channels`` of the head, or the
    ``out_channels`` of the point's conv), else the classifier input's."""
    name = _feature_point_name(head, prefer)
    if name is None:
        return head.conv_seg.in_channels
    declared = getattr(head, 'feature_channels', {})
    if name in declared:
        return declared[name]
    module = feature_point_module(head, (name, ))
    return getattr(module, 'conv', module).out_channels


@contextlib.contextmanager
def _capture_output(module: nn.Module) -> Iterator[List[Tensor]]:
    captured: List[Tensor] = []
    handle = module.register_forward_hook(
        lambda mod, args, out: captured.append(out))
    try:
        yield captured
    finally:
        handle.remove()


def decode_with_features(head: nn.Module,
                         feats: Sequence[Feature],
                         prefer: Sequence[str] = (),
                         return_extra: bool = False) -> tuple:
    """Logits and decoder features of one decode head forward.

    By default the decoder feature is the input of the head's classifier
    ``cls_seg`` (before its dropout), ``(N, channels, h, w)``: the last
    shared representation of every ``BaseDecodeHead``. Methods that read
    decoder features (U2PL's representation head, prototypes, agents) take
    them from here, so they work on any head. A method whose official code
    reads another point names it in ``prefer`` (e.g. ``('aspp', )``, the
    ASPP output of DeepLabV3+); heads that expose it give that point, the
    others the classifier input.

    ``return_extra`` also returns the head's other outputs
    (:data:`ExtraOutputs`, see :func:`split_head_output`).

    Returns:
        tuple: decoder features ``(N, C, h', w')``, logits
        ``(N, K, h, w)`` and (with ``return_extra``) the extra outputs.
    """
    features, logits, extra = _decode(head, feats, prefer)
    if return_extra:
        return features, logits, extra
    return features, logits


def _decode(head: nn.Module, feats: Sequence[Feature],
            prefer: Sequence[str]) -> Tuple[Tensor, Tensor, ExtraOutputs]:
    """Decoder features, logits and extra outputs of one head forward."""
    point = feature_point_module(head, prefer)
    capture = _capture_classifier_input(head) if point is None \
        else _capture_output(point)
    with capture as captured:
        logits, extra = split_head_output(head, head(feats))
    if len(captured) != 1:
        where = 'cls_seg' if point is None else type(point).__name__
        raise RuntimeError(
            f'decode head {type(head).__name__} called {where} '
            f'{len(captured)} times in one forward; decoder features are '
            'read at a point the head passes once')
    return captured[0], logits, extra


def decode_with_channel_masks(head: nn.Module, feats: Sequence[Feature],
                              mask_for: Callable[[int], Tensor]) -> Tensor:
    """Logits ``(N, K, h, w)`` of the head's forward with every feature map
    it reads scaled per image and channel (UniMatch V2's complementary
    dropout; a class token is left as it is).

    Args:
        head (nn.Module): A ``BaseDecodeHead``.
        feats (Sequence[Feature]): Backbone outputs, maps ``(N, C_i, h_i,
            w_i)`` or ``[map, cls_token]`` pairs.
        mask_for (Callable[[int], Tensor]): Gives the ``(N, C)`` mask of a
            feature map with ``C`` channels.
    """

    def masked(feat: Feature) -> Feature:
        return map_feature(
            feat, lambda m: m * mask_for(m.shape[1]).to(m.dtype)[:, :, None,
                                                                None],
            lambda t: t)

    return split_head_output(head, head(_HeadReadFeatures(feats,
                                                          masked)))[0]

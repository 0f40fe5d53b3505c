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
"""
import contextlib
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.models.decode_heads.decode_head import BaseDecodeHead


def check_segmentor(segmentor: nn.Module, method: str) -> None:
    """Raise a clear error when ``segmentor`` cannot be a method's student.

    A student needs ``extract_feat`` and one ``BaseDecodeHead`` (with
    ``cls_seg``) as ``decode_head``; cascade segmentors (a list of heads)
    and heads without a classifier are refused here, at build time.
    """
    name = type(segmentor).__name__
    missing = [attr for attr in ('extract_feat', 'decode_head')
               if not hasattr(segmentor, attr)]
    if missing:
        raise TypeError(
            f'{method} needs an encoder-decoder segmentor with extract_feat '
            f'and decode_head; {name} lacks {", ".join(missing)}')
    head = segmentor.decode_head
    if not isinstance(head, BaseDecodeHead):
        raise TypeError(
            f'{method} needs a single decode head derived from mmseg\'s '
            f'BaseDecodeHead (it provides cls_seg, the classifier whose '
            f'input is the decoder feature); {name}.decode_head is a '
            f'{type(head).__name__}. Cascade segmentors are not supported')
    if not callable(getattr(head, 'cls_seg', None)) or \
            not isinstance(getattr(head, 'conv_seg', None), nn.Conv2d):
        raise TypeError(
            f'{method}: decode head {type(head).__name__} has no cls_seg '
            'classifier with a conv_seg Conv2d; the methods read decoder '
            'features at its input')


def _logits_tensor(head: nn.Module, out) -> Tensor:
    if not isinstance(out, Tensor):
        raise TypeError(
            f'decode head {type(head).__name__}.forward returned a '
            f'{type(out).__name__}, not a logits tensor (N, K, h, w); heads '
            'whose forward returns several outputs are not supported')
    return out


class _PerturbedFeatures(list):
    """Backbone features as the head sees them in the perturbation pass.

    Indexing feature ``i`` returns ``cat([f_i, Dropout2d(p)(f_i)])`` (clean
    and perturbed halves of one batch), computed the first time the head
    reads it. So exactly the features the head consumes are dropped, in the
    order it reads them (``in_index`` order, then any direct reads such as
    DepthwiseSeparableASPPHead's ``inputs[0]``), and the random draws are
    those of dropping each of them once. The underlying list keeps the
    clean features, so code that bypasses indexing meets a batch-size
    mismatch instead of silently unperturbed features.
    """

    def __init__(self, feats: Sequence[Tensor], dropout: float) -> None:
        super().__init__(feats)
        self._dropout = dropout
        self._doubled = {}

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
        if index not in self._doubled:
            feat = super().__getitem__(index)
            dropped = F.dropout2d(feat, self._dropout, training=True)
            self._doubled[index] = torch.cat([feat, dropped])
        return self._doubled[index]

    def __iter__(self) -> Iterator[Tensor]:
        return (self[i] for i in range(len(self)))


def decode_with_perturbation(head: nn.Module,
                             feats: Sequence[Tensor],
                             dropout: float = 0.5,
                             return_features: bool = False,
                             prefer: Sequence[str] = ()) -> Tuple[Tensor, ...]:
    """Clean and feature-perturbed logits of one decode head, one batch.

    The perturbation is ``Dropout2d(dropout)`` (always active, rescaled by
    ``1 / (1 - dropout)``) on each backbone feature the head consumes, as
    UniMatch's official model does to ``c1`` and ``c4``; clean and dropped
    features go through the head's normal forward together, so its BN sees
    both halves.

    Args:
        head (nn.Module): A ``BaseDecodeHead``.
        feats (Sequence[Tensor]): Backbone outputs, each ``(N, C_i, h_i,
            w_i)``.
        dropout (float): Channel-drop probability.
        return_features (bool): Also return the decoder features of the
            clean half, read as :func:`decode_with_features` reads them
            (``prefer`` names the feature point). Defaults to False.
        prefer (Sequence[str]): Feature points, see
            :func:`decode_with_features`.

    Returns:
        tuple[Tensor, ...]: clean and perturbed logits, each
        ``(N, K, h, w)``, then (with ``return_features``) the clean decoder
        features ``(N, C, h', w')``.
    """
    perturbed = _PerturbedFeatures(feats, dropout)
    if not return_features:
        return _logits_tensor(head, head(perturbed)).chunk(2)
    features, logits = decode_with_features(head, perturbed, prefer)
    return (*logits.chunk(2), features.chunk(2)[0])


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
                         feats: Sequence[Tensor],
                         prefer: Sequence[str] = ()
                         ) -> Tuple[Tensor, Tensor]:
    """Logits and decoder features of one decode head forward.

    By default the decoder feature is the input of the head's classifier
    ``cls_seg`` (before its dropout), ``(N, channels, h, w)``: the last
    shared representation of every ``BaseDecodeHead``. Methods that read
    decoder features (U2PL's representation head, prototypes, agents) take
    them from here, so they work on any head. A method whose official code
    reads another point names it in ``prefer`` (e.g. ``('aspp', )``, the
    ASPP output of DeepLabV3+); heads that expose it give that point, the
    others the classifier input.

    Returns:
        tuple[Tensor, Tensor]: decoder features ``(N, C, h', w')`` and
        logits ``(N, K, h, w)``.
    """
    point = feature_point_module(head, prefer)
    capture = _capture_classifier_input(head) if point is None \
        else _capture_output(point)
    with capture as captured:
        logits = _logits_tensor(head, head(feats))
    if len(captured) != 1:
        where = 'cls_seg' if point is None else type(point).__name__
        raise RuntimeError(
            f'decode head {type(head).__name__} called {where} '
            f'{len(captured)} times in one forward; decoder features are '
            'read at a point the head passes once')
    return captured[0], logits

# Copyright (c) mmsemi contributors. All rights reserved.
"""Segmentor-level options given to a wrapper, applied to the wrapped config.

``mmseg.apis.init_model`` sets ``model.pretrained = None`` and
``model.train_cfg = None`` on whatever model a config describes, to build a
network for inference without fetching pretrained weights. For an mmsemi
wrapper these options concern the wrapped ``segmentor``, so the wrapper
forwards them there (see :func:`apply_segmentor_options`).
"""
import copy
from typing import Any, Dict, Optional

from mmengine.config import ConfigDict


class _Unset:
    """Marks an option the config did not give (``None`` is a real value:
    ``pretrained=None`` means *no* pretrained weights)."""

    def __repr__(self) -> str:
        return 'UNSET'


UNSET: Any = _Unset()

# init_cfg types that load weights from a checkpoint.
_PRETRAINED_INIT_TYPES = ('Pretrained', 'PretrainedInit')


def _is_pretrained_init(init_cfg: Any) -> bool:
    return isinstance(init_cfg, dict) and \
        init_cfg.get('type') in _PRETRAINED_INIT_TYPES


def drop_pretrained_init_cfgs(cfg: Any) -> Any:
    """Remove every ``init_cfg`` of type ``Pretrained`` in a nested config.

    A list ``init_cfg`` keeps its other entries (e.g. Kaiming init); a
    dict one becomes ``None``. The input is not modified.
    """
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(drop_pretrained_init_cfgs(item) for item in cfg)
    if not isinstance(cfg, dict):
        return cfg
    out = type(cfg)()
    for key, value in cfg.items():
        if key == 'init_cfg' and _is_pretrained_init(value):
            value = None
        elif key == 'init_cfg' and isinstance(value, (list, tuple)):
            value = [v for v in value if not _is_pretrained_init(v)] or None
        else:
            value = drop_pretrained_init_cfgs(value)
        out[key] = value
    return out


def without_pretrained(segmentor: Dict) -> Dict:
    """A copy of a segmentor config that loads no pretrained weights.

    Mirrors what ``init_model`` does to a stock ``EncoderDecoder`` config
    (``pretrained=None``, backbone ``init_cfg`` cleared), restricted to the
    weight-loading parts: the segmentor's and its backbone's ``pretrained``
    become ``None`` and ``Pretrained``-type ``init_cfg`` entries at any depth
    are removed, while other initialisers stay.
    """
    segmentor = drop_pretrained_init_cfgs(copy.deepcopy(segmentor))
    if 'pretrained' in segmentor:
        segmentor['pretrained'] = None
    backbone = segmentor.get('backbone')
    if isinstance(backbone, dict) and isinstance(
            backbone.get('pretrained'), str):
        backbone['pretrained'] = None
    return segmentor


def apply_segmentor_options(segmentor: Dict,
                            pretrained: Optional[str] = UNSET,
                            train_cfg: Optional[Dict] = UNSET) -> Dict:
    """Apply a wrapper's segmentor-level options to the wrapped config.

    Args:
        segmentor (dict): Config of the wrapped segmentor (not modified).
        pretrained (str, optional): Given on the wrapper, it replaces the
            wrapped segmentor's ``pretrained``. ``None`` (what
            ``init_model`` sets) switches off pretrained weights entirely,
            see :func:`without_pretrained`. ``UNSET`` leaves the segmentor
            as configured.
        train_cfg (dict, optional): Given on the wrapper, it replaces the
            wrapped segmentor's ``train_cfg``; ``UNSET`` leaves it.

    Returns:
        ConfigDict: The segmentor config to build (a ConfigDict, because
        ``EncoderDecoder`` sets ``backbone.pretrained`` by attribute).
    """
    segmentor = ConfigDict(copy.deepcopy(segmentor))
    if pretrained is None:
        segmentor = without_pretrained(segmentor)
    elif pretrained is not UNSET:
        segmentor['pretrained'] = pretrained
    # A None is only written where the segmentor has the key, so segmentor
    # types without a train_cfg argument keep building.
    if train_cfg is not UNSET and (train_cfg is not None
                                   or 'train_cfg' in segmentor):
        segmentor['train_cfg'] = train_cfg
    return segmentor

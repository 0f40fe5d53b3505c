# Copyright (c) mmsemi contributors. All rights reserved.
"""Pre-flight check of the pretrained weights a model config names.

mmengine loads pretrained weights inside ``Runner.train()``, after the
datasets, the model and the optimiser are built, and without internet its
errors are bare (``FileNotFoundError: data/pretrained/x.pth can not be
found``, ``URLError``) and name neither the config key nor a way out.
:func:`check_pretrained_weights` runs before the Runner is built
(``tools/train.py``): it finds every weight reference of the model config,
makes sure each is on disk (downloading a remote one into the cache
mmengine reads, as mmengine would), and otherwise stops with one message
that names each file or URL, the config key that set it, how to obtain or
convert it, and how to train without it.
"""
import os
import os.path as osp
from typing import Any, Callable, List, NamedTuple, Optional
from urllib.parse import urlparse

import torch

from .checkpoint import PACKAGE_CHECKPOINT_DIR, PACKAGE_SCHEME

_CONVERTERS = osp.join('tools', 'model_converters')
# Local files the shipped configs name and the converter that writes them.
KNOWN_CONVERSIONS = {
    'resnet101_deepstem_mmseg.pth':
    'python tools/model_converters/unimatch_resnet_to_mmseg.py '
    'pretrained/resnet101.pth data/pretrained/resnet101_deepstem_mmseg.pth '
    '(the official deep-stem ImageNet ResNet-101 of UniMatch/U2PL; see the '
    'README, "Pretrained weights")',
}
_PRETRAINED_INIT_TYPES = ('Pretrained', 'PretrainedInit')


class WeightRef(NamedTuple):
    """One pretrained-weight reference of a config.

    Attributes:
        key (str): Dotted config key that sets it, e.g.
            ``model.segmentor.pretrained``.
        value (str): The file, URL or ``scheme://name`` it names.
        clear_key (str): The key whose ``None`` switches it off.
    """
    key: str
    value: str
    clear_key: str


class MissingWeight(NamedTuple):
    ref: WeightRef
    location: str  # the file or URL looked for
    reason: str
    remedy: str


def find_weight_refs(cfg: Any, prefix: str = 'model') -> List[WeightRef]:
    """Every ``pretrained='...'`` and ``init_cfg=dict(type='Pretrained',
    checkpoint='...')`` below ``cfg`` (a model config), with its key."""
    refs: List[WeightRef] = []
    if isinstance(cfg, (list, tuple)):
        for i, item in enumerate(cfg):
            refs += find_weight_refs(item, f'{prefix}.{i}')
        return refs
    if not isinstance(cfg, dict):
        return refs
    for key, value in cfg.items():
        path = f'{prefix}.{key}'
        if key == 'pretrained' and isinstance(value, str):
            refs.append(WeightRef(path, value, path))
        elif key == 'init_cfg' and _is_pretrained_init(value):
            refs.append(WeightRef(f'{path}.checkpoint', value['checkpoint'],
                                  path))
        elif key == 'init_cfg' and isinstance(value, (list, tuple)):
            refs += [
                WeightRef(f'{path}.{i}.checkpoint', item['checkpoint'], path)
                for i, item in enumerate(value) if _is_pretrained_init(item)
            ]
        else:
            refs += find_weight_refs(value, path)
    return refs


def _is_pretrained_init(value: Any) -> bool:
    return isinstance(value, dict) and \
        value.get('type') in _PRETRAINED_INIT_TYPES and \
        isinstance(value.get('checkpoint'), str)


_HTTP = ('http://', 'https://')


def _model_zoo_entry(value: str) -> Optional[str]:
    """What mmengine's model tables give for a ``scheme://name`` reference
    (open-mmlab://, torchvision://, mmcls://): a URL, or for some
    open-mmlab names a path below mmengine's home. None for any other
    reference."""
    from mmengine.runner import checkpoint as ckpt
    schemes = {
        'open-mmlab://': ckpt.get_external_models,
        'openmmlab://': ckpt.get_external_models,
        'torchvision://': ckpt.get_torchvision_models,
        'modelzoo://': ckpt.get_torchvision_models,
        'mmcls://': ckpt.get_mmcls_models,
    }
    for scheme, table in schemes.items():
        if value.startswith(scheme):
            name = value[len(scheme):]
            if scheme.startswith('open'):
                name = ckpt.get_deprecated_model_names().get(name, name)
            entry = table().get(name)
            if entry is None:
                raise KeyError(f'{value}: mmengine knows no model {name!r} '
                               f'under {scheme}')
            return entry
    return None


def remote_url(value: str) -> Optional[str]:
    """The URL a remote reference downloads (http(s), open-mmlab://,
    torchvision://, mmcls://), or None for a local or package file."""
    if value.startswith(_HTTP):
        return value
    entry = _model_zoo_entry(value)
    return entry if entry is not None and entry.startswith(_HTTP) else None


def cached_download_path(url: str) -> str:
    """Where mmengine's ``load_from_http`` keeps ``url``: torch's hub
    checkpoint folder (``$TORCH_HOME/hub/checkpoints``)."""
    return osp.join(torch.hub.get_dir(), 'checkpoints',
                    osp.basename(urlparse(url).path))


def local_path(value: str) -> str:
    """The file a local or package reference points to."""
    if value.startswith(PACKAGE_SCHEME):
        return osp.join(PACKAGE_CHECKPOINT_DIR, value[len(PACKAGE_SCHEME):])
    entry = _model_zoo_entry(value)
    if entry is not None:  # an open-mmlab file below mmengine's home
        from mmengine.runner import checkpoint as ckpt
        return osp.join(ckpt._get_mmengine_home(), entry)
    return osp.expanduser(value)


def _wrapper_without_pretrained(model_cfg: Any) -> bool:
    """An mmsemi wrapper given ``pretrained=None`` loads no weights at all
    (see :func:`mmsemi.models.segmentors.wrapped_cfg.without_pretrained`)."""
    return isinstance(model_cfg, dict) and 'segmentor' in model_cfg and \
        'pretrained' in model_cfg and model_cfg['pretrained'] is None


def _download(url: str, dst: str) -> None:
    torch.hub.download_url_to_file(url, dst, progress=False)


def _remedy_local(path: str) -> str:
    known = KNOWN_CONVERSIONS.get(osp.basename(path))
    if known:
        return f'convert it with {known}'
    return ('put the file there, or convert a checkpoint of another code '
            f'base with a script of {_CONVERTERS}/ (see the README, '
            '"Pretrained weights")')


def missing_weights(model_cfg: Any, download: bool = True,
                    check_remote: bool = True,
                    downloader: Callable[[str, str], None] = _download
                    ) -> List[MissingWeight]:
    """The weight references of ``model_cfg`` that are not on disk and
    (remote ones, with ``download``) could not be downloaded; remote ones
    are not looked at without ``check_remote``."""
    missing = []
    if _wrapper_without_pretrained(model_cfg):
        return missing
    for ref in find_weight_refs(model_cfg):
        url = remote_url(ref.value)
        if url is None:
            path = local_path(ref.value)
            if not osp.isfile(path):
                missing.append(MissingWeight(ref, path, 'file not found',
                                             _remedy_local(path)))
            continue
        if not check_remote:
            continue
        dst = cached_download_path(url)
        if osp.isfile(dst):
            continue
        reason = 'not downloaded'
        if download:
            try:
                os.makedirs(osp.dirname(dst), exist_ok=True)
                downloader(url, dst)
                continue
            except Exception as exc:  # any network or disk failure
                reason = f'download failed: {type(exc).__name__}: {exc}'
        missing.append(
            MissingWeight(
                ref, url, reason,
                f'download it on a machine with internet and copy it to '
                f'{dst} (mmengine reads it from there offline)'))
    return missing


def format_missing(missing: List[MissingWeight]) -> str:
    """The message of :func:`check_pretrained_weights`."""
    lines = ['the pretrained weights this config names are not available:']
    for item in missing:
        lines += [
            f'  {item.ref.key} = {item.ref.value!r}',
            f'    looked for: {item.location} ({item.reason})',
            f'    to get it: {item.remedy}',
        ]
    clear = sorted({item.ref.clear_key for item in missing})
    lines.append(
        'To train without them (random initialisation, far below the '
        "papers' numbers): --cfg-options "
        + ' '.join(f'{key}=None' for key in clear)
        + ' (on an mmsemi wrapper, model.pretrained=None switches off every '
        'pretrained weight of the wrapped segmentor).')
    return '\n'.join(lines)


class PretrainedWeightsError(FileNotFoundError):
    """Raised before training when pretrained weights are unavailable."""


def check_pretrained_weights(model_cfg: Any, check_remote: bool = True,
                             **kwargs) -> None:
    """Stop with :class:`PretrainedWeightsError` when a pretrained weight
    of ``model_cfg`` is neither on disk nor downloadable.

    Remote weights are downloaded into mmengine's cache now (only where
    missing), so training then loads them from disk. In a distributed run
    only one process per node should do that (``check_remote=False`` on
    the others, which check local files only). ``kwargs`` go to
    :func:`missing_weights`.
    """
    missing = missing_weights(model_cfg, check_remote=check_remote, **kwargs)
    if missing:
        raise PretrainedWeightsError(format_missing(missing))

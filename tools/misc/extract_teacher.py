# Copyright (c) mmsemi contributors. All rights reserved.
"""Turn an mmsemi checkpoint into a plain mmseg checkpoint and config.

An mmsemi segmentor keeps the wrapped mmseg segmentor as ``student`` (and,
for mean-teacher methods, an EMA copy as ``teacher``), so its state dict keys
read ``student.backbone...`` / ``teacher.decode_head...``. This tool keeps
one of the two, drops the prefix and the training state (optimizer,
schedulers, message hub), and keeps ``meta.dataset_meta``.

Methods may attach training-only modules to the segmentors (U2PL's
``rep_head``). The tool builds the wrapped ``segmentor`` config on its own
and keeps exactly the keys that plain segmentor has; the others are dropped
and listed. It then writes the plain config beside the weights (``OUT.py``
for ``OUT.pth``): the segmentor as ``model``, the test pipeline, the
val/test dataloaders, evaluators and loops and the runtime settings of the
mmsemi config, ``default_scope='mmseg'`` and no ``custom_imports``. Stock
mmseg uses the pair directly (``mmseg.apis.init_model(OUT.py, OUT.pth)``,
mmseg's ``tools/test.py``, ``load_from``). When the segmentor or the data
settings use a type only mmsemi registers (the shipped configs'
``SemiDeepLabV3PlusHead``), the tool warns and says so at the top of
``OUT.py``: mmsemi is then still needed to build it.

Usage::

    python tools/misc/extract_teacher.py IN.pth OUT.pth [--which auto]
        [--config CONFIG] [--cfg-options KEY=VALUE ...] [--keep-all-keys]
    mim run mmsemi extract_teacher IN.pth OUT.pth --which student

``--which auto`` (default) keeps the teacher when the checkpoint has one
(mean-teacher methods) and the student otherwise (e.g. UniMatch). The
mmsemi config is ``--config`` or, by default, the one the Runner stored in
the checkpoint (``meta.cfg``). ``--keep-all-keys`` copies every tensor of
the branch and writes no config (for checkpoints without a usable config).

The input loads with ``weights_only=True`` and the types mmengine writes
(:mod:`mmsemi.utils.checkpoint`); a trusted file holding other objects
loads when listed in ``MMSEMI_TRUSTED_CHECKPOINTS``.
"""
import argparse
import copy
import importlib
import os.path as osp
import sys
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple

import torch
from mmengine.config import Config, DictAction

# Run from a clone, prefer its mmsemi over an installed one (the installed
# copy in mmsemi/.mim/tools/misc has no mmsemi/ folder two levels up).
_REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if osp.isdir(osp.join(_REPO_ROOT, 'mmsemi')) and _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

BRANCHES = ('teacher', 'student')

# Keys of ``checkpoint['meta']`` that describe the mmsemi training run and
# would mislead a consumer of the plain segmentor (``cfg`` is the wrapper's
# config, which stock mmseg cannot build).
DROPPED_META_KEYS = ('cfg', )


def _strip_ddp_prefix(key: str) -> str:
    return key[len('module.'):] if key.startswith('module.') else key


def resolve_which(state_dict: Dict[str, Any], which: str) -> str:
    """Map ``'auto'`` to ``'teacher'`` if any key starts with ``teacher.``,
    else ``'student'``; other values are returned unchanged."""
    if which != 'auto':
        return which
    has_teacher = any(
        _strip_ddp_prefix(key).startswith('teacher.') for key in state_dict)
    return 'teacher' if has_teacher else 'student'


def extract_branch_state_dict(state_dict: Dict[str, Any],
                              which: str = 'teacher') -> 'OrderedDict':
    """Keep the ``<which>.``-prefixed entries of ``state_dict``, unprefixed.

    A leading ``module.`` (a state dict saved from a DDP wrapper) is removed
    first.

    Args:
        state_dict (dict): An mmsemi segmentor's state dict.
        which (str): ``'teacher'`` or ``'student'``.

    Returns:
        OrderedDict: The wrapped segmentor's state dict, in original order.

    Raises:
        ValueError: If ``which`` is not a known branch or no key starts with
            ``<which>.`` (the message lists the prefixes that were found).
    """
    if which not in BRANCHES:
        raise ValueError(
            f"which must be 'teacher' or 'student', got {which!r}")
    prefix = f'{which}.'
    extracted = OrderedDict()
    for key, value in state_dict.items():
        key = _strip_ddp_prefix(key)
        if key.startswith(prefix):
            extracted[key[len(prefix):]] = value
    if not extracted:
        found = sorted({key.split('.', 1)[0] for key in state_dict})
        raise ValueError(f'no state dict key starts with {prefix!r}; the '
                         f'top-level prefixes are {found}. Is this an mmsemi '
                         f'checkpoint of a method with a {which}?')
    return extracted


def convert_checkpoint(checkpoint: Dict[str, Any],
                       which: str = 'auto',
                       source: str = '') -> Dict[str, Any]:
    """Build a plain mmseg checkpoint ``{'meta', 'state_dict'}``.

    Args:
        checkpoint (dict): A loaded mmsemi checkpoint; either a Runner
            checkpoint (with ``state_dict`` and ``meta``) or a bare state
            dict.
        which (str): ``'teacher'``, ``'student'`` or ``'auto'`` (see
            :func:`resolve_which`).
        source (str): Where the checkpoint came from, recorded in
            ``meta['mmsemi_extracted']``.

    Returns:
        dict: ``meta`` (the input's meta without the training config, plus
        ``mmsemi_extracted=dict(source=..., which=...)``) and ``state_dict``.
    """
    if not isinstance(checkpoint, dict):
        raise ValueError(
            f'expected a checkpoint dict, got {type(checkpoint).__name__}')
    state_dict = checkpoint.get('state_dict', checkpoint)
    which = resolve_which(state_dict, which)
    meta = copy.deepcopy(checkpoint.get('meta', {})) \
        if 'state_dict' in checkpoint else {}
    for key in DROPPED_META_KEYS:
        meta.pop(key, None)
    meta['mmsemi_extracted'] = dict(source=source, which=which)
    return dict(
        meta=meta, state_dict=extract_branch_state_dict(state_dict, which))


# Top-level settings of the mmsemi config that the plain config keeps: what
# mmseg's test tool, init_model and the inferencer read. Training settings
# (train dataloader, optimizer, schedules, custom hooks) are left out.
PLAIN_CONFIG_KEYS = ('test_pipeline', 'val_dataloader', 'test_dataloader',
                     'val_evaluator', 'test_evaluator', 'val_cfg',
                     'test_cfg', 'tta_model', 'tta_pipeline', 'env_cfg',
                     'default_hooks', 'vis_backends', 'visualizer',
                     'log_processor', 'log_level')


def _import_mmsemi() -> None:
    """Register mmseg's and mmsemi's modules (building the segmentor and
    checking types need both; loading the checkpoint safely needs mmsemi's
    loader)."""
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    try:
        importlib.import_module('mmsemi')
    except ImportError as err:
        raise ImportError(
            'extract_teacher.py needs mmsemi to load the checkpoint safely '
            'and to read an mmsemi config; run it from the clone or install '
            'mmsemi') from err


def load_input_checkpoint(path: str) -> Any:
    """The input checkpoint, loaded with ``weights_only=True`` and the
    types mmengine writes (see :mod:`mmsemi.utils.checkpoint`): a file from
    elsewhere cannot run code here."""
    from mmsemi.utils import load_checkpoint_file
    return load_checkpoint_file(path, map_location='cpu')


def load_semi_config(checkpoint: Dict[str, Any], config: Optional[str],
                     cfg_options: Optional[dict] = None,
                     source: str = 'the checkpoint') -> Config:
    """The mmsemi config: ``config`` if given, else ``meta.cfg`` (the text
    the Runner stores in every checkpoint).

    Raises:
        ValueError: If neither is available, naming ``source``.
    """
    if config is not None:
        cfg = Config.fromfile(config)
    else:
        text = checkpoint.get('meta', {}).get('cfg') \
            if isinstance(checkpoint, dict) else None
        if not isinstance(text, str):
            raise ValueError(
                f'{source} stores no training config (meta.cfg); pass the '
                'mmsemi config it was trained with as --config, or '
                '--keep-all-keys to copy every tensor without a config')
        cfg = Config.fromstring(text, file_format='.py')
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def plain_segmentor_cfg(cfg: Config) -> Dict[str, Any]:
    """The wrapped segmentor of an mmsemi config, without pretrained
    weights (the extracted checkpoint holds all of them).

    Raises:
        ValueError: If ``cfg.model`` wraps no ``segmentor``.
    """
    from mmsemi.models.segmentors.wrapped_cfg import without_pretrained
    model = cfg.get('model', {})
    if 'segmentor' not in model:
        raise ValueError(
            f"the config's model (type {model.get('type')!r}) has no "
            "'segmentor' key: expected an mmsemi wrapper config such as "
            "dict(type='UniMatch', segmentor=dict(type='EncoderDecoder', "
            '...))')
    return without_pretrained(model['segmentor']).to_dict()


def segmentor_state_shapes(segmentor_cfg: Dict[str, Any]
                           ) -> Dict[str, Tuple[int, ...]]:
    """Key -> shape of the state dict of a fresh build of the segmentor."""
    from mmseg.registry import MODELS
    model = MODELS.build(copy.deepcopy(segmentor_cfg))
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def keep_segmentor_keys(state_dict: 'OrderedDict',
                        expected: Dict[str, Tuple[int, ...]]
                        ) -> Tuple['OrderedDict', List[str]]:
    """Keep the entries a plain build of the segmentor has.

    Comparing with a build, rather than stripping known names such as
    ``rep_head``, also covers modules future methods attach, and proves
    that the output loads into the plain segmentor with ``strict=True``.

    Returns:
        tuple: The kept state dict (input order) and the dropped keys.

    Raises:
        ValueError: If the branch lacks keys of the segmentor or a shape
            differs (the checkpoint does not match the config).
    """
    missing = sorted(set(expected) - set(state_dict))
    wrong = sorted(k for k in expected if k in state_dict
                   and tuple(state_dict[k].shape) != expected[k])
    if missing or wrong:
        details = [f'missing keys {missing[:10]}' if missing else '',
                   'shape mismatches ' + str([
                       f'{k}: {tuple(state_dict[k].shape)} vs {expected[k]}'
                       for k in wrong[:10]]) if wrong else '']
        raise ValueError(
            'the checkpoint does not match the config\'s segmentor: '
            + '; '.join(d for d in details if d)
            + '. Pass the config it was trained with as --config')
    kept = OrderedDict((k, v) for k, v in state_dict.items() if k in expected)
    dropped = [k for k in state_dict if k not in expected]
    return kept, dropped


def _types_in(cfg: Any, path: str = '') -> List[Tuple[str, str]]:
    """(path, type name) of every string ``type`` in a nested config."""
    found = []
    if isinstance(cfg, dict):
        if isinstance(cfg.get('type'), str):
            found.append((path or '<root>', cfg['type']))
        for key, value in cfg.items():
            found += _types_in(value, f'{path}.{key}' if path else str(key))
    elif isinstance(cfg, (list, tuple)):
        for i, value in enumerate(cfg):
            found += _types_in(value, f'{path}[{i}]')
    return found


def mmsemi_only_types(plain_cfg: Dict[str, Any]) -> List[Tuple[str, str]]:
    """(path, type) of the types in ``plain_cfg`` that mmsemi registers,
    i.e. that stock mmseg cannot build."""
    from mmengine.registry import Registry
    import mmseg.registry as mmseg_registry
    registries = [r for r in vars(mmseg_registry).values()
                  if isinstance(r, Registry)]
    only = []
    for path, name in _types_in(plain_cfg):
        for registry in registries:
            cls = registry.module_dict.get(name)
            if cls is not None and cls.__module__.split('.')[0] == 'mmsemi':
                only.append((path, name))
                break
    return only


def build_plain_config(cfg: Config,
                       segmentor_cfg: Dict[str, Any]) -> Dict[str, Any]:
    """The stock mmseg config: the segmentor as ``model`` plus the test and
    runtime settings of the mmsemi config (see ``PLAIN_CONFIG_KEYS``)."""
    plain = dict(model=segmentor_cfg, default_scope='mmseg')
    for key in PLAIN_CONFIG_KEYS:
        if key in cfg:
            value = cfg[key]
            plain[key] = value.to_dict() if hasattr(value, 'to_dict') \
                else copy.deepcopy(value)
    return plain


def config_header(source: str, out_file: str, which: str,
                  mmsemi_types: List[Tuple[str, str]]) -> str:
    """Comment lines opening the written config."""
    lines = [f'# Plain mmseg config of the {which} of {source},',
             f'# written by tools/misc/extract_teacher.py with the weights '
             f'{osp.basename(out_file)}.']
    if mmsemi_types:
        lines += ['#', '# NOTE: this config uses types that only mmsemi '
                  'registers, so stock mmseg', '# cannot build them without '
                  'mmsemi installed and imported (`import mmsemi`,', '# or '
                  "custom_imports = dict(imports=['mmsemi'], "
                  'allow_failed_imports=False)):']
        lines += [f'#   {path}: {name}' for path, name in mmsemi_types]
        lines += ['# (init_model builds only `model`; mmseg\'s tools/test.py '
                  'also builds the', '# dataloaders and evaluators.)']
    return '\n'.join(lines) + '\n'


def write_plain_config(plain_cfg: Dict[str, Any], path: str,
                       header: str) -> None:
    """Write ``plain_cfg`` as a Python config file opened by ``header``."""
    text = Config(plain_cfg).pretty_text
    with open(path, 'w') as f:
        f.write(header + '\n' + text)


def config_path_for(out_file: str) -> str:
    """``OUT.py`` beside ``OUT.pth``."""
    return osp.splitext(out_file)[0] + '.py'


def extract_with_config(checkpoint: Dict[str, Any], cfg: Config,
                        which: str, source: str, out_file: str
                        ) -> Tuple[Dict[str, Any], Dict[str, Any],
                                   List[Tuple[str, str]]]:
    """Convert ``checkpoint`` keeping the segmentor's keys only.

    Returns:
        tuple: The converted checkpoint (its ``meta.mmsemi_extracted`` lists
        ``dropped_keys`` and names the ``config`` file), the plain config
        and its mmsemi-only types (see :func:`mmsemi_only_types`).
    """
    converted = convert_checkpoint(checkpoint, which, source=source)
    segmentor_cfg = plain_segmentor_cfg(cfg)
    kept, dropped = keep_segmentor_keys(
        converted['state_dict'], segmentor_state_shapes(segmentor_cfg))
    converted['state_dict'] = kept
    converted['meta']['mmsemi_extracted'].update(
        dropped_keys=dropped, config=osp.basename(config_path_for(out_file)))
    plain = build_plain_config(cfg, segmentor_cfg)
    return converted, plain, mmsemi_only_types(plain)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Extract the teacher or student of an mmsemi checkpoint '
        'as a plain mmseg checkpoint and config')
    parser.add_argument('in_file', help='mmsemi checkpoint (.pth)')
    parser.add_argument(
        'out_file',
        help='output mmseg checkpoint (.pth); the config is written beside '
        'it with the suffix .py')
    parser.add_argument(
        '--which',
        choices=['auto', *BRANCHES],
        default='auto',
        help='which segmentor to keep; auto: the teacher if the checkpoint '
        'has one, else the student (default: auto)')
    parser.add_argument(
        '--config',
        help='the mmsemi config of the run (default: the config stored in '
        'the checkpoint, meta.cfg)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the mmsemi config, as in tools/train.py')
    parser.add_argument(
        '--keep-all-keys',
        action='store_true',
        help='copy every tensor of the branch (including training-only '
        'modules) and write no config')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not osp.isfile(args.in_file):
        raise FileNotFoundError(f'{args.in_file} does not exist')
    _import_mmsemi()
    checkpoint = load_input_checkpoint(args.in_file)
    if args.keep_all_keys:
        converted = convert_checkpoint(
            checkpoint, args.which, source=args.in_file)
        torch.save(converted, args.out_file)
        print(f'Wrote {len(converted["state_dict"])} '
              f'{converted["meta"]["mmsemi_extracted"]["which"]} tensors '
              f'to {args.out_file} (all keys, no config)')
        return
    cfg = load_semi_config(checkpoint, args.config, args.cfg_options,
                           source=args.in_file)
    converted, plain, mmsemi_types = extract_with_config(
        checkpoint, cfg, args.which, args.in_file, args.out_file)
    info = converted['meta']['mmsemi_extracted']
    torch.save(converted, args.out_file)
    config_file = config_path_for(args.out_file)
    write_plain_config(
        plain, config_file,
        config_header(args.in_file, args.out_file, info['which'],
                      mmsemi_types))
    print(f'Wrote {len(converted["state_dict"])} {info["which"]} tensors '
          f'to {args.out_file} and the config {config_file}')
    if info['dropped_keys']:
        print(f'Dropped {len(info["dropped_keys"])} keys that the plain '
              f'segmentor does not have: {", ".join(info["dropped_keys"])}')
    if mmsemi_types:
        print(f'WARNING: {config_file} uses types that only mmsemi '
              'registers; stock mmseg needs mmsemi installed and imported '
              'to build them:\n' + '\n'.join(
                  f'  {path}: {name}' for path, name in mmsemi_types),
              file=sys.stderr)


if __name__ == '__main__':
    main()

# Copyright (c) mmsemi contributors. All rights reserved.
"""Turn an mmsemi checkpoint into a plain mmseg checkpoint.

An mmsemi segmentor keeps the wrapped mmseg segmentor as ``student`` (and,
for mean-teacher methods, an EMA copy as ``teacher``), so its state dict keys
read ``student.backbone...`` / ``teacher.decode_head...``. This tool keeps
one of the two, drops the prefix and the training state (optimizer,
schedulers, message hub), and keeps ``meta.dataset_meta`` so stock mmseg
(``mmseg.apis.init_model(<plain mmseg config>, <output>)``, ``tools/test.py``
of mmseg, fine-tuning with ``load_from``) can use the result directly.

Usage::

    python tools/misc/extract_teacher.py IN.pth OUT.pth [--which auto]
    mim run mmsemi extract_teacher IN.pth OUT.pth --which student

``--which auto`` (default) keeps the teacher when the checkpoint has one
(mean-teacher methods) and the student otherwise (e.g. UniMatch).
"""
import argparse
import copy
import os.path as osp
from collections import OrderedDict
from typing import Any, Dict

import torch

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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Extract the teacher or student of an mmsemi checkpoint '
        'as a plain mmseg checkpoint')
    parser.add_argument('in_file', help='mmsemi checkpoint (.pth)')
    parser.add_argument('out_file', help='output mmseg checkpoint (.pth)')
    parser.add_argument(
        '--which',
        choices=['auto', *BRANCHES],
        default='auto',
        help='which segmentor to keep; auto: the teacher if the checkpoint '
        'has one, else the student (default: auto)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not osp.isfile(args.in_file):
        raise FileNotFoundError(f'{args.in_file} does not exist')
    # weights_only=False: the input is the user's own training output, whose
    # meta holds non-tensor objects (see mmsemi/utils/checkpoint.py).
    checkpoint = torch.load(
        args.in_file, map_location='cpu', weights_only=False)
    converted = convert_checkpoint(checkpoint, args.which, source=args.in_file)
    torch.save(converted, args.out_file)
    which = converted['meta']['mmsemi_extracted']['which']
    print(f'Wrote {len(converted["state_dict"])} {which} tensors to '
          f'{args.out_file}')


if __name__ == '__main__':
    main()

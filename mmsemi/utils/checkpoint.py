# Copyright (c) mmsemi contributors. All rights reserved.
"""Loading checkpoints safely.

Unpickling a checkpoint can run any code the file asks for, so a checkpoint
downloaded from the internet must not be unpickled freely. mmsemi loads every
local checkpoint with ``torch.load(..., weights_only=True)``, which rebuilds
only tensors and an allow-list of types, and extends the allow-list, for that
one call only, with exactly the types a checkpoint written by mmengine's
Runner holds besides tensors (:func:`checkpoint_safe_globals`):

* ``mmengine.logging.history_buffer.HistoryBuffer`` (the message hub's
  logged scalars). Its pickle names its statistics methods through
  ``builtins.getattr``; that name is bound to
  :func:`history_buffer_statistic`, which resolves only
  ``HistoryBuffer.min/max/current/mean``, never a general ``getattr``;
* numpy arrays, numpy scalars and the numeric numpy dtypes (the buffers'
  histories, ``eta`` and other runtime values): ``numpy.ndarray``,
  ``numpy.dtype``, the dtype classes of bool, integers, floats and complex
  numbers, and numpy's ``_reconstruct`` and ``scalar`` functions under both
  module names (``numpy.core`` of numpy 1, ``numpy._core`` of numpy 2).

Everything else (the config text, meta data, optimizer, scheduler and
sampler state) is plain Python containers and tensors. The allow-list is
added with a context manager around the load, so torch's global allow-list
is the same before and after (DESIGN.md, principle 11).

:func:`register_safe_local_loader` (called by ``import mmsemi``) makes
mmengine's loader for local paths use :func:`load_checkpoint_file`, so
``load_from``, ``--resume``, ``mmseg.apis.init_model``, ``tools/test.py``
and ``init_cfg=dict(type='Pretrained', ...)`` all load this way. Remote
schemes (``http(s)://``, ``open-mmlab://``, ``torchvision://``) keep
mmengine's loaders, which call ``torch.load`` with torch's default,
``weights_only=True``.

A checkpoint that needs any other type is refused with
:class:`UnsafeCheckpointError`, naming the file and the refused global. A
file you trust (e.g. one holding objects of your own) is loaded with full
unpickling when its path is listed in the environment variable
``MMSEMI_TRUSTED_CHECKPOINTS`` (several paths separated by ``os.pathsep``,
``:`` on Linux). A truncated or garbage file raises
:class:`CorruptCheckpointError`, naming the file.

``register_package_checkpoints`` adds the ``mmsemi://NAME`` scheme for the
weights that ship inside the package (``mmsemi/checkpoints/NAME``, e.g. the
toy demo's stand-in backbone), so a config can name them wherever mmsemi is
installed; they load through :func:`load_checkpoint_file` too.
"""
import contextlib
import functools
import logging
import os
import os.path as osp
import pickle
import re
import struct
import zipfile
from typing import Any, Callable, FrozenSet, Iterator, List, Optional, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer, print_log
from mmengine.runner.checkpoint import CheckpointLoader

# The empty prefix is mmengine's catch-all scheme for local file paths.
LOCAL_SCHEME = ''
PACKAGE_SCHEME = 'mmsemi://'
PACKAGE_CHECKPOINT_DIR = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'checkpoints')
TRUSTED_CHECKPOINTS_ENV = 'MMSEMI_TRUSTED_CHECKPOINTS'
# The statistics HistoryBuffer registers itself and pickles by name.
HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')

MapLocation = Optional[Union[str, torch.device, Callable, dict]]


class CheckpointLoadError(RuntimeError):
    """A checkpoint file could not be loaded; the message names the file."""


class UnsafeCheckpointError(CheckpointLoadError, pickle.UnpicklingError):
    """The checkpoint needs a type outside the allow-list (refused, not
    unpickled)."""


class CorruptCheckpointError(CheckpointLoadError):
    """The file is truncated or not a checkpoint at all."""


def history_buffer_statistic(owner: Any, name: str) -> Callable:
    """``getattr`` as a checkpoint may use it: ``HistoryBuffer.<statistic>``.

    ``HistoryBuffer.__getstate__`` stores its statistics methods, which
    pickle writes as ``getattr(HistoryBuffer, 'mean')``. A general
    ``getattr`` would let a file reach any attribute of any allowed object.

    Raises:
        pickle.UnpicklingError: For any other owner or name, naming both.
    """
    if owner is HistoryBuffer and name in HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    if not isinstance(owner, type):
        owner = type(owner)
    owner_name = f'{owner.__module__}.{owner.__qualname__}'
    raise pickle.UnpicklingError(
        f'Unsupported global: GLOBAL builtins.getattr({owner_name},{name!r})'
        ' was not an allowed global by default. Only HistoryBuffer.'
        f'{"/".join(HISTORY_BUFFER_STATISTICS)} are allowed.')


def _numpy_globals() -> List[Any]:
    """numpy's array, scalar and numeric-dtype reconstruction globals."""
    reconstruct = np.zeros(1).__reduce__()[0]
    scalar = np.float64(0).__reduce__()[0]
    named = [(function, f'{module}.{function.__name__}')
             for function in (reconstruct, scalar)
             for module in ('numpy.core.multiarray',
                            'numpy._core.multiarray')]
    numeric = '?' + np.typecodes['AllInteger'] + np.typecodes['AllFloat']
    dtype_classes = sorted({type(np.dtype(code)) for code in numeric},
                           key=lambda cls: cls.__name__)
    return [np.ndarray, np.dtype, *dtype_classes, *named]


@functools.lru_cache(maxsize=1)
def checkpoint_safe_globals() -> tuple:
    """What ``weights_only=True`` needs, besides torch's own allow-list, to
    load a checkpoint written by mmengine's Runner (see the module doc)."""
    return (HistoryBuffer, (history_buffer_statistic, 'builtins.getattr'),
            *_numpy_globals())


@contextlib.contextmanager
def _checkpoint_globals_allowed() -> Iterator[None]:
    """Allow :func:`checkpoint_safe_globals` for the duration of a load.

    Only the entries not already allowed are added and removed again, so a
    user's own ``torch.serialization.add_safe_globals`` survives. The class
    level statistics table that ``HistoryBuffer.__setstate__`` updates from
    the file is restored too, keeping mmengine's defaults.
    """
    allowed = torch.serialization.get_safe_globals()
    missing = [g for g in checkpoint_safe_globals() if g not in allowed]
    statistics = dict(HistoryBuffer._statistics_methods)
    try:
        with torch.serialization.safe_globals(missing):
            yield
    finally:
        HistoryBuffer._statistics_methods.clear()
        HistoryBuffer._statistics_methods.update(statistics)
        for name in HISTORY_BUFFER_STATISTICS:
            HistoryBuffer._statistics_methods.setdefault(
                name, getattr(HistoryBuffer, name))


def trusted_checkpoint_paths() -> FrozenSet[str]:
    """Real paths listed in ``$MMSEMI_TRUSTED_CHECKPOINTS``."""
    listed = os.environ.get(TRUSTED_CHECKPOINTS_ENV, '').split(os.pathsep)
    return frozenset(
        osp.realpath(osp.expanduser(path)) for path in listed if path)


def is_trusted_checkpoint(filename: str) -> bool:
    """Whether the user listed ``filename`` in $MMSEMI_TRUSTED_CHECKPOINTS."""
    return osp.realpath(filename) in trusted_checkpoint_paths()


# Phrases of torch's weights-only unpickler that refuse a type or function.
_REFUSAL = re.compile(r'GLOBAL (\S+)|Can only (?:build|create new object)'
                      r'.* but got (.+)|reduce for unrecognized function (.+)')
# What torch raises when the bytes are not a (complete) checkpoint; an
# UnpicklingError that refuses no global means the pickle itself is broken.
_CORRUPT_MESSAGES = ('PytorchStreamReader failed', 'legacy .tar format',
                     'Invalid magic number')
_CORRUPT_TYPES = (pickle.UnpicklingError, EOFError, KeyError, IndexError,
                  struct.error, UnicodeDecodeError, zipfile.BadZipFile)
_UNPICKLER_DETAIL = 'WeightsUnpickler error:'


def _refused_global(message: str) -> Optional[str]:
    """The global (or type) a weights-only load refused, from torch's error
    message; None when the message refuses nothing."""
    for line in message.splitlines():
        match = _REFUSAL.search(line)
        if match:
            return next(group for group in match.groups() if group).strip()
    return None


def _is_corrupt(err: BaseException) -> bool:
    return isinstance(err, _CORRUPT_TYPES) or any(
        phrase in str(err) for phrase in _CORRUPT_MESSAGES)


def _unsafe_error(filename: str, refused: str) -> UnsafeCheckpointError:
    path = osp.realpath(filename)
    return UnsafeCheckpointError(
        f'Refused to load the checkpoint {filename} for safety: it needs '
        f'the global `{refused}`, which is none of the types mmengine '
        'checkpoints hold, and unpickling it could run code from the file. '
        'mmsemi loads checkpoints with torch.load(weights_only=True) and '
        'an allow-list of those types (mmsemi/utils/checkpoint.py). If you '
        'trust this file, load it with full unpickling by listing it: '
        f'{TRUSTED_CHECKPOINTS_ENV}={path} (several files separated by '
        f'{os.pathsep!r}).')


def _error_detail(err: BaseException) -> str:
    """The informative line of torch's message (after the preamble of a
    weights-only failure), or the exception type alone."""
    message = str(err)
    if _UNPICKLER_DETAIL in message:
        message = message.split(_UNPICKLER_DETAIL, 1)[1]
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return f'{type(err).__name__}: {lines[0]}' if lines \
        else type(err).__name__


def _corrupt_error(filename: str,
                   err: BaseException) -> CorruptCheckpointError:
    return CorruptCheckpointError(
        f'Cannot read the checkpoint {filename}: the file is truncated or '
        f'not a checkpoint ({_error_detail(err)}). Save or download it '
        'again.')


def _torch_load(filename: str, map_location: MapLocation, trusted: bool,
                mmap: bool) -> Any:
    if trusted:
        return torch.load(filename, map_location=map_location,
                          weights_only=False, mmap=mmap)
    with _checkpoint_globals_allowed():
        return torch.load(filename, map_location=map_location,
                          weights_only=True, mmap=mmap)


def load_checkpoint_file(filename: str,
                         map_location: MapLocation = None,
                         mmap: bool = False) -> Any:
    """Load a local checkpoint safely (see the module doc).

    Args:
        filename (str): Path of the checkpoint on the local file system.
        map_location: Same as :func:`torch.load`.
        mmap (bool): Map the tensors' storage instead of reading it (zip
            checkpoints only), as :func:`torch.load`.

    Returns:
        The checkpoint (usually a dict with ``state_dict`` and ``meta``).

    Raises:
        FileNotFoundError: If ``filename`` is not an existing file.
        UnsafeCheckpointError: If the file needs a type outside the
            allow-list and is not listed in ``$MMSEMI_TRUSTED_CHECKPOINTS``.
        CorruptCheckpointError: If the file is truncated or not a
            checkpoint.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    trusted = is_trusted_checkpoint(filename)
    if trusted:
        print_log(f'Loading {filename} with full unpickling '
                  f'(weights_only=False): it is listed in '
                  f'{TRUSTED_CHECKPOINTS_ENV}.', logger='current',
                  level=logging.WARNING)
    try:
        return _torch_load(filename, map_location, trusted, mmap)
    except Exception as err:
        refused = _refused_global(str(err)) if isinstance(
            err, pickle.UnpicklingError) and not trusted else None
        if refused is not None:
            raise _unsafe_error(filename, refused) from err
        if _is_corrupt(err):
            raise _corrupt_error(filename, err) from err
        raise


def load_from_local_safe(filename: str,
                         map_location: MapLocation = None) -> Any:
    """mmengine's loader for local paths (:func:`load_checkpoint_file`).

    The name starts with ``load_from_`` because mmengine prints
    ``name[10:]`` as the backend name ("Loads checkpoint by local_safe
    backend").
    """
    return load_checkpoint_file(filename, map_location)


def register_safe_local_loader() -> None:
    """Make mmengine load local checkpoints with :func:`load_from_local_safe`.

    Idempotent; affects every later ``mmengine.runner.load_checkpoint``,
    ``_load_checkpoint``, ``Runner.resume`` and ``Runner.load_checkpoint``
    call that receives a local path.
    """
    CheckpointLoader.register_scheme(
        prefixes=LOCAL_SCHEME, loader=load_from_local_safe, force=True)


def package_checkpoint_path(name: str) -> str:
    """Local path of ``mmsemi://NAME`` (a file of ``mmsemi/checkpoints``).

    Raises:
        FileNotFoundError: naming the reference and the path looked at.
    """
    if name.startswith(PACKAGE_SCHEME):
        name = name[len(PACKAGE_SCHEME):]
    path = osp.join(PACKAGE_CHECKPOINT_DIR, name)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{PACKAGE_SCHEME}{name}: no such checkpoint in the mmsemi '
            f'package ({path} does not exist)')
    return path


def load_from_mmsemi_package(filename: str,
                             map_location: MapLocation = None) -> Any:
    """Load ``mmsemi://NAME``, a plain state dict shipped with mmsemi."""
    return load_checkpoint_file(
        package_checkpoint_path(filename), map_location)


def register_package_checkpoints() -> None:
    """Make ``mmsemi://NAME`` loadable by mmengine (``init_cfg`` of type
    ``Pretrained``, ``load_from``, ``load_checkpoint``). Idempotent."""
    CheckpointLoader.register_scheme(
        prefixes=PACKAGE_SCHEME, loader=load_from_mmsemi_package, force=True)

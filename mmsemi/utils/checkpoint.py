# Copyright (c) mmsemi contributors. All rights reserved.
"""Loading local checkpoints with torch >= 2.6.

torch 2.6 changed the default of ``torch.load`` to ``weights_only=True``,
which only unpickles tensors and a small allow-list of types. mmengine 0.10.7
calls ``torch.load(filename, map_location=...)`` without ``weights_only``,
and a checkpoint written by mmengine's Runner holds more than tensors: the
``message_hub`` (with ``HistoryBuffer`` objects), numpy scalars and arrays,
the config text, optimizer and scheduler state. ``--resume`` and
``load_from=...`` then fail with ``Unsupported global: GLOBAL
mmengine.logging.history_buffer.HistoryBuffer``.

``register_trusted_local_loader`` replaces mmengine's loader for local paths
(the empty-prefix scheme of :class:`mmengine.runner.CheckpointLoader`) with
one that passes ``weights_only=False``. That is safe only for files you
trust: unpickling runs arbitrary code. Local checkpoints are the user's own
training outputs (or files the user deliberately put on disk), the same trust
model as before torch 2.6. Remote schemes (``http(s)://``,
``open-mmlab://``, ``torchvision://``) are left untouched: they download
plain state dicts, which load fine with ``weights_only=True``.

``register_package_checkpoints`` adds the ``mmsemi://NAME`` scheme for the
weights that ship inside the package (``mmsemi/checkpoints/NAME``, e.g. the
toy demo's stand-in backbone), so a config can name them wherever mmsemi is
installed; they are plain state dicts, loaded with ``weights_only=True``.
"""
import os.path as osp
from typing import Any, Callable, Optional, Union

import torch
from mmengine.runner.checkpoint import CheckpointLoader

# The empty prefix is mmengine's catch-all scheme for local file paths.
LOCAL_SCHEME = ''
PACKAGE_SCHEME = 'mmsemi://'
PACKAGE_CHECKPOINT_DIR = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'checkpoints')

MapLocation = Optional[Union[str, torch.device, Callable, dict]]


def load_from_local_trusted(filename: str,
                            map_location: MapLocation = None) -> Any:
    """Load a local checkpoint with full unpickling (``weights_only=False``).

    The name starts with ``load_from_`` because mmengine prints
    ``name[10:]`` as the backend name ("Loads checkpoint by local_trusted
    backend").

    Args:
        filename (str): Path of the checkpoint on the local file system.
        map_location: Same as :func:`torch.load`.

    Returns:
        The unpickled checkpoint (usually a dict with ``state_dict`` and
        ``meta``).

    Raises:
        FileNotFoundError: If ``filename`` is not an existing file.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch.load(
        filename, map_location=map_location, weights_only=False)


def register_trusted_local_loader() -> None:
    """Make mmengine load local checkpoints with ``weights_only=False``.

    Idempotent; affects every later ``mmengine.runner.load_checkpoint``,
    ``_load_checkpoint``, ``Runner.resume`` and ``Runner.load_checkpoint`` call
    that receives a local path. See the module docstring for why.
    """
    CheckpointLoader.register_scheme(
        prefixes=LOCAL_SCHEME, loader=load_from_local_trusted, force=True)


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
    return torch.load(package_checkpoint_path(filename),
                      map_location=map_location, weights_only=True)


def register_package_checkpoints() -> None:
    """Make ``mmsemi://NAME`` loadable by mmengine (``init_cfg`` of type
    ``Pretrained``, ``load_from``, ``load_checkpoint``). Idempotent."""
    CheckpointLoader.register_scheme(
        prefixes=PACKAGE_SCHEME, loader=load_from_mmsemi_package, force=True)

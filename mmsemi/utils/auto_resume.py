# Copyright (c) mmsemi contributors. All rights reserved.
"""``--resume`` without a checkpoint path: the newest intact checkpoint.

mmengine's auto-resume reads ``<work_dir>/last_checkpoint`` (written by
``CheckpointHook``) and loads the file it names. A run killed while writing
that file, or a full disk, leaves it truncated, and resuming then fails
however many good checkpoints lie beside it. :func:`find_resumable_checkpoint`
checks the latest checkpoint and, if it is missing or corrupt, warns and
falls back to the newest intact ``iter_N.pth`` / ``epoch_N.pth`` before it.
``tools/train.py`` passes the result to the Runner as ``load_from`` (with
``resume=True`` the Runner resumes from ``load_from``).
"""
import logging
import os
import os.path as osp
import re
import zipfile
from typing import List, Optional, Tuple

from mmengine.logging import print_log
from mmengine.runner.checkpoint import find_latest_checkpoint

from .checkpoint import CorruptCheckpointError, load_checkpoint_file

# CheckpointHook's default file names (filename_tmpl 'iter_{}.pth' /
# 'epoch_{}.pth').
CHECKPOINT_NAME = re.compile(r'^(iter|epoch)_(\d+)\.pth$')


def older_checkpoints(latest: str) -> List[str]:
    """The checkpoints of the same kind (``iter_`` or ``epoch_``) beside
    ``latest`` with a smaller number, newest first; none if ``latest`` does
    not have a default name."""
    match = CHECKPOINT_NAME.match(osp.basename(latest))
    folder = osp.dirname(latest)
    if match is None or not osp.isdir(folder):
        return []
    kind, newest = match.group(1), int(match.group(2))
    numbered = []
    for name in os.listdir(folder):
        other = CHECKPOINT_NAME.match(name)
        if other and other.group(1) == kind and int(other.group(2)) < newest:
            numbered.append((int(other.group(2)), osp.join(folder, name)))
    return [path for _, path in sorted(numbered, reverse=True)]


def unreadable_reason(path: str) -> Optional[str]:
    """Why ``path`` cannot be resumed from (missing, truncated, garbage), or
    None if it loads.

    The file is unpickled completely, with the same safety checks as the
    Runner's load; zip checkpoints map their tensors instead of reading
    them. A checkpoint refused for safety raises
    :class:`~mmsemi.utils.checkpoint.UnsafeCheckpointError`: that is no
    accident to step around.
    """
    try:
        load_checkpoint_file(
            path, map_location='cpu', mmap=zipfile.is_zipfile(path))
    except FileNotFoundError:
        return 'the file does not exist'
    except CorruptCheckpointError as err:
        return str(err)
    return None


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume`` should continue from.

    Returns:
        str or None: The latest checkpoint recorded in
        ``<work_dir>/last_checkpoint`` if intact, else the newest intact
        older one (with a warning per skipped file); None when there is no
        ``last_checkpoint`` (training starts from scratch, as in mmengine).

    Raises:
        CorruptCheckpointError: When neither the latest nor any older
            checkpoint is intact, listing each file and what is wrong.
    """
    latest = find_latest_checkpoint(work_dir)
    if latest is None:
        return None
    skipped: List[Tuple[str, str]] = []
    for candidate in [latest, *older_checkpoints(latest)]:
        reason = unreadable_reason(candidate)
        if reason is None:
            if skipped:
                print_log(f'Resuming from {candidate}, the newest intact '
                          'checkpoint.', logger='current',
                          level=logging.WARNING)
            return candidate
        skipped.append((candidate, reason))
        print_log(f'Skipping checkpoint {candidate} for --resume: {reason}',
                  logger='current', level=logging.WARNING)
    listing = '\n'.join(f'  {path}: {reason}' for path, reason in skipped)
    raise CorruptCheckpointError(
        f'--resume found no intact checkpoint in {work_dir} (the latest is '
        f'{latest}, named in {osp.join(work_dir, "last_checkpoint")}):\n'
        f'{listing}\nResume from another file with --cfg-options '
        'load_from=PATH, or start from scratch without --resume (or in a '
        'new work dir).')

# Copyright (c) mmsemi contributors. All rights reserved.
"""Write the error that stops ``tools/train.py`` / ``tools/test.py`` into the
work dir, next to the run's log.

Errors raised while a run starts (a missing split file or weight, a bad
label, a batch the model cannot take, a misspelt config key) used to reach
stderr only, so a job whose console output was lost (slurm, nohup) left no
trace in its work dir. :func:`log_error_to_work_dir` writes the error with
its traceback through mmengine's logger: into the Runner's log file
(``<work_dir>/<timestamp>/<timestamp>.log``) when the Runner got far enough
to open it, else into ``<work_dir>/startup_error.log``.
"""
import logging
import os
import os.path as osp
import sys
import time
import traceback
from typing import List, Optional

from mmengine.dist import get_rank, is_distributed
from mmengine.logging import MMLogger

#: File written when the error came before the Runner opened its log.
STARTUP_ERROR_LOG = 'startup_error.log'


def resolve_work_dir(config_path: str, cli_work_dir: Optional[str],
                     config_work_dir: Optional[str] = None) -> str:
    """The work dir of a run, as mmseg's tools choose it: ``--work-dir`` >
    the config's ``work_dir`` > ``./work_dirs/<config name>``. Also known
    when the config cannot be read, so that error can be logged too."""
    if cli_work_dir is not None:
        return cli_work_dir
    if config_work_dir is not None:
        return config_work_dir
    return osp.join('./work_dirs',
                    osp.splitext(osp.basename(config_path))[0])


def _rank() -> int:
    """This process's rank, also before the process group exists (the
    launchers' environment), so that one process writes the file."""
    if is_distributed():
        return get_rank()
    return int(os.environ.get('RANK', os.environ.get('SLURM_PROCID', 0)))


def _inside(path: str, folder: str) -> bool:
    path, folder = osp.abspath(path), osp.abspath(folder)
    return path == folder or path.startswith(folder + osp.sep)


def _file_handlers(logger: logging.Logger,
                   work_dir: str) -> List[logging.FileHandler]:
    """The handlers of ``logger`` that write a file inside ``work_dir``."""
    return [handler for handler in logger.handlers
            if isinstance(handler, logging.FileHandler)
            and _inside(handler.baseFilename, work_dir)]


def _startup_logger(work_dir: str) -> MMLogger:
    """An mmengine logger whose file is ``<work_dir>/startup_error.log``."""
    os.makedirs(work_dir, exist_ok=True)
    return MMLogger.get_instance(
        f'mmsemi_startup_error_{time.time_ns()}', logger_name='mmsemi',
        log_file=osp.join(work_dir, STARTUP_ERROR_LOG), log_level='ERROR')


def log_error_to_work_dir(error: BaseException,
                          work_dir: Optional[str]) -> Optional[str]:
    """Write ``error`` and its traceback to the work dir's log.

    The Runner's log file is used when the current mmengine logger (the
    Runner's, once it was created) writes one inside ``work_dir``; else
    ``<work_dir>/startup_error.log`` is written. Only the file handlers
    get the record, so the console does not show the traceback twice
    (Python prints it when the error is re-raised). Only rank 0 writes, as
    mmengine's log file.

    Returns:
        str | None: the file written, or None (no work dir, or rank > 0).
    """
    if not work_dir or _rank() != 0:
        return None
    logger = MMLogger.get_current_instance()
    handlers = _file_handlers(logger, work_dir)
    if not handlers:
        logger = _startup_logger(work_dir)
        handlers = _file_handlers(logger, work_dir)
    # The record points at the line that raised, as logging would.
    frames = traceback.extract_tb(error.__traceback__)
    where = frames[-1] if frames else None
    record = logger.makeRecord(
        logger.name, logging.ERROR, where.filename if where else '?',
        where.lineno if where else 0,
        f'The run stopped with {type(error).__name__}: {error}', (),
        (type(error), error, error.__traceback__),
        func=where.name if where else None)
    for handler in handlers:
        handler.handle(record)
        handler.flush()
    return handlers[0].baseFilename if handlers else None


def report_error_location(path: Optional[str]) -> None:
    """Tell the console where the error was logged."""
    if path is not None:
        print(f'The error below is also written to {path}', file=sys.stderr,
              flush=True)

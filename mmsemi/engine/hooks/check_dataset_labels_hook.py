# Copyright (c) mmsemi contributors. All rights reserved.
"""Check every label of the train/val/test sets before they are used."""
import os
from typing import List, Optional, Sequence, Union

from mmengine.dist import broadcast_object_list, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmseg.registry import HOOKS
from mmsemi.datasets.label_check import (DatasetLabelReport,
                                         check_dataset_labels,
                                         format_problems)

PHASES = ('train', 'val', 'test')


def _default_workers() -> int:
    return min(8, os.cpu_count() or 1)


@HOOKS.register_module()
class CheckDatasetLabelsHook(Hook):
    """Read every label once at start-up and fail with a list of bad files.

    ``before_train`` checks the train set (the labeled split; unlabeled
    sets load no labels) and the val set, ``before_val`` a val set not
    checked yet (``runner.val()``), ``before_test`` the test set. See
    :mod:`mmsemi.datasets.label_check` for what is checked. Problems of all
    checked sets are collected and raised together as one ValueError that
    names split file, line, label file and bad values of each.

    Only the main process reads files; the outcome is broadcast so that
    every rank raises. Passed samples are cached under
    ``<cache_dir>/label_check/`` (default: the work dir), so a restart reads
    only new or changed files.

    Args:
        enabled (bool): False skips all checks (for huge sets). mmengine
            does not accept ``None`` for a default hook it does not define,
            so the opt-out is
            ``default_hooks.check_labels.enabled=False``.
        phases (Sequence[str]): which of 'train', 'val', 'test' to check.
        workers (int, optional): reader threads; default min(8, CPUs).
        cache_dir (str, optional): cache folder; default ``runner.work_dir``.
        use_cache (bool): False re-reads every file each time.
        max_listed (int): problems listed in the error message.
        priority (str | int): hook priority. Defaults to 'VERY_HIGH'.
    """

    def __init__(self,
                 enabled: bool = True,
                 phases: Sequence[str] = PHASES,
                 workers: Optional[int] = None,
                 cache_dir: Optional[str] = None,
                 use_cache: bool = True,
                 max_listed: int = 20,
                 priority: Union[str, int] = 'VERY_HIGH') -> None:
        unknown = set(phases) - set(PHASES)
        if unknown:
            raise ValueError(f'CheckDatasetLabelsHook: unknown phases '
                             f'{sorted(unknown)}; expected some of {PHASES}')
        self.enabled = enabled
        self.phases = tuple(phases)
        self.workers = workers or _default_workers()
        self.cache_dir = cache_dir
        self.use_cache = use_cache
        self.max_listed = max_listed
        self.priority = priority
        self._checked: List[int] = []

    def before_train(self, runner) -> None:
        """Check the train and val sets."""
        self._check(runner, [('train', runner.train_loop),
                             ('val', runner.val_loop)])

    def before_val(self, runner) -> None:
        """Check a val set that was not checked before training."""
        self._check(runner, [('val', runner.val_loop)])

    def before_test(self, runner) -> None:
        """Check the test set."""
        self._check(runner, [('test', runner.test_loop)])

    def _check(self, runner, loops: List[tuple]) -> None:
        """Check the datasets of ``(phase, loop)`` pairs not checked yet."""
        datasets = []
        for phase, loop in loops:
            dataset = getattr(getattr(loop, 'dataloader', None), 'dataset',
                              None)
            if (self.enabled and phase in self.phases and dataset is not None
                    and id(dataset) not in self._checked):
                self._checked.append(id(dataset))
                datasets.append((phase, dataset))
        if not datasets:
            return
        message: List[Optional[str]] = [None]
        failure: Optional[Exception] = None
        if is_main_process():
            try:
                message[0] = self._run(runner, datasets)
            except Exception as error:  # re-raised below, after the others
                failure = error
                message[0] = (f'the label check failed on rank 0: '
                              f'{type(error).__name__}: {error}')
        # Every rank must raise, or the others would wait in a collective.
        broadcast_object_list(message)
        if failure is not None:
            raise failure
        if message[0] is not None:
            raise ValueError(message[0])

    def _run(self, runner, datasets: List[tuple]) -> Optional[str]:
        """Check ``(phase, dataset)`` pairs; the error message or None."""
        cache_dir = None
        if self.use_cache:
            cache_dir = self.cache_dir or runner.work_dir
        reports: List[DatasetLabelReport] = []
        for phase, dataset in datasets:
            for report in check_dataset_labels(dataset, self.workers,
                                               cache_dir):
                print_log(f'label check ({phase}): {report.summary()}',
                          logger='current')
                reports.append(report)
        num_bad = sum(len(report.problems) for report in reports)
        if not num_bad:
            return None
        return (f'{num_bad} label problem(s) found before '
                f'{"/".join(phase for phase, _ in datasets)}:\n'
                f'{format_problems(reports, self.max_listed)}\n'
                'Fix these files (or the number of classes of the dataset); '
                'the check can be switched off with '
                'default_hooks.check_labels.enabled=False')

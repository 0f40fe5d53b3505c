# Copyright (c) mmsemi contributors. All rights reserved.
"""log_error_to_work_dir: the error goes to the log file the current
mmengine logger writes inside the work dir, else to startup_error.log, on
rank 0 only, with its traceback and without console output."""
import os
import os.path as osp

import pytest
from mmengine.logging import MMLogger

from mmsemi.utils.error_log import STARTUP_ERROR_LOG, log_error_to_work_dir


def _raise_value_error():
    raise ValueError('split file lists no samples')


def _error():
    try:
        _raise_value_error()
    except ValueError as error:
        return error


def test_without_a_runner_log_writes_startup_error_log(tmp_path, capsys,
                                                        monkeypatch):
    monkeypatch.delenv('RANK', raising=False)
    # a current logger that writes elsewhere (or nowhere) does not count
    MMLogger.get_instance('test_error_log_other',
                          log_file=str(tmp_path / 'other.log'))
    work_dir = str(tmp_path / 'work')
    path = log_error_to_work_dir(_error(), work_dir)
    assert path == osp.join(work_dir, STARTUP_ERROR_LOG)
    with open(path) as f:
        text = f.read()
    assert ' - mmsemi - ERROR - ' in text
    assert '_raise_value_error' in text.splitlines()[0]  # where it raised
    assert 'The run stopped with ValueError: split file lists no samples' \
        in text
    assert 'Traceback (most recent call last)' in text
    assert 'split file lists no samples' not in capsys.readouterr().out
    assert (tmp_path / 'other.log').read_text() == ''


def test_runner_log_inside_the_work_dir_gets_the_error(tmp_path,
                                                       monkeypatch):
    monkeypatch.delenv('RANK', raising=False)
    work_dir = tmp_path / 'work'
    log = work_dir / '20260101_000000' / '20260101_000000.log'
    log.parent.mkdir(parents=True)
    MMLogger.get_instance('test_error_log_runner', log_file=str(log))
    assert log_error_to_work_dir(_error(), str(work_dir)) == str(log)
    assert 'The run stopped with ValueError' in log.read_text()
    assert os.listdir(work_dir) == ['20260101_000000']


@pytest.mark.parametrize('work_dir,rank', [(None, '0'), ('work', '1')])
def test_nothing_written_without_work_dir_or_on_other_ranks(
        tmp_path, monkeypatch, work_dir, rank):
    monkeypatch.setenv('RANK', rank)
    MMLogger.get_instance(f'test_error_log_rank{rank}')
    target = str(tmp_path / work_dir) if work_dir else None
    assert log_error_to_work_dir(_error(), target) is None
    assert os.listdir(tmp_path) == []

# Copyright (c) mmsemi contributors. All rights reserved.
"""``--resume`` continues from the newest intact checkpoint: a truncated or
missing latest checkpoint is skipped with a warning, a refused one stops
the run, and no intact one at all stops it with the list of files."""
import importlib.util
import logging
import os.path as osp
from collections import OrderedDict

import pytest
import torch
from mmengine.logging import MMLogger

from mmsemi.utils import (CorruptCheckpointError, UnsafeCheckpointError,
                          find_resumable_checkpoint)
from mmsemi.utils.auto_resume import older_checkpoints

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY_CONFIG = osp.join(ROOT, 'configs', 'toy',
                      'unimatch_r18s_toyshapes-1_16.py')


def _save(work_dir, name: str, value: float) -> str:
    path = str(work_dir / name)
    torch.save(dict(meta=dict(iter=value),
                    state_dict=OrderedDict(w=torch.full((4, ), value))),
               path)
    return path


def _truncate(path: str) -> None:
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 3])


def _record_latest(work_dir, path: str) -> None:
    (work_dir / 'last_checkpoint').write_text(path)


@pytest.fixture
def work_dir(tmp_path):
    """iter_2/9/10/20 and an epoch_30 (another kind, never a fallback);
    last_checkpoint names iter_20."""
    for n in (2, 9, 10, 20):
        _save(tmp_path, f'iter_{n}.pth', float(n))
    _save(tmp_path, 'epoch_30.pth', 30.0)
    _save(tmp_path, 'best_mIoU_iter_15.pth', 15.0)
    _record_latest(tmp_path, str(tmp_path / 'iter_20.pth'))
    return tmp_path


@pytest.fixture
def warnings_logged():
    """Messages logged at WARNING by mmengine's current logger."""
    records = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_older_checkpoints_newest_first_same_kind(work_dir):
    assert older_checkpoints(str(work_dir / 'iter_20.pth')) == [
        str(work_dir / f'iter_{n}.pth') for n in (10, 9, 2)
    ]
    assert older_checkpoints(str(work_dir / 'best_mIoU_iter_15.pth')) == []


def test_intact_latest_is_used(work_dir, warnings_logged):
    assert find_resumable_checkpoint(str(work_dir)) == \
        str(work_dir / 'iter_20.pth')
    assert warnings_logged == []


def test_truncated_latest_falls_back_to_newest_intact(work_dir,
                                                      warnings_logged):
    _truncate(str(work_dir / 'iter_20.pth'))
    _truncate(str(work_dir / 'iter_10.pth'))
    assert find_resumable_checkpoint(str(work_dir)) == \
        str(work_dir / 'iter_9.pth')
    messages = [r.getMessage() for r in warnings_logged]
    assert len(messages) == 3
    for n, message in zip((20, 10), messages):
        assert message.startswith(
            f'Skipping checkpoint {work_dir / f"iter_{n}.pth"} for '
            '--resume: Cannot read the checkpoint')
        assert 'truncated' in message
    assert messages[2] == f'Resuming from {work_dir / "iter_9.pth"}, the ' \
        'newest intact checkpoint.'


def test_missing_latest_falls_back(work_dir, warnings_logged):
    (work_dir / 'iter_20.pth').unlink()
    assert find_resumable_checkpoint(str(work_dir)) == \
        str(work_dir / 'iter_10.pth')
    assert 'iter_20.pth for --resume: the file does not exist' in \
        warnings_logged[0].getMessage()


def test_no_intact_checkpoint_stops_with_the_list(work_dir):
    for n in (2, 9, 10, 20):
        _truncate(str(work_dir / f'iter_{n}.pth'))
    with pytest.raises(CorruptCheckpointError) as info:
        find_resumable_checkpoint(str(work_dir))
    message = str(info.value)
    assert message.startswith(
        f'--resume found no intact checkpoint in {work_dir}')
    for n in (2, 9, 10, 20):
        assert f'\n  {work_dir / f"iter_{n}.pth"}: Cannot read' in message
    assert 'load_from=PATH' in message


def test_refused_latest_stops_instead_of_falling_back(
        work_dir, malicious_checkpoint):
    _record_latest(work_dir, malicious_checkpoint.path)
    with pytest.raises(UnsafeCheckpointError,
                       match=malicious_checkpoint.refused_global):
        find_resumable_checkpoint(str(work_dir))
    assert not osp.exists(malicious_checkpoint.marker)


def test_without_last_checkpoint_training_starts_fresh(tmp_path):
    assert find_resumable_checkpoint(str(tmp_path)) is None


def _train_tool():
    path = osp.join(ROOT, 'tools', 'train.py')
    spec = importlib.util.spec_from_file_location('mmsemi_train_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_tool_resumes_from_the_fallback(work_dir):
    """tools/train.py --resume hands the Runner the intact checkpoint as
    load_from (with resume=True the Runner resumes from it); an explicit
    load_from is left alone."""
    _truncate(str(work_dir / 'iter_20.pth'))
    train = _train_tool()
    cfg = train.build_config(train.parse_args(
        [TOY_CONFIG, '--work-dir', str(work_dir), '--resume']))
    assert cfg.resume is True
    assert cfg.load_from == str(work_dir / 'iter_10.pth')

    chosen = str(work_dir / 'iter_2.pth')
    cfg = train.build_config(train.parse_args(
        [TOY_CONFIG, '--work-dir', str(work_dir), '--resume',
         '--cfg-options', f'load_from={chosen}']))
    assert cfg.load_from == chosen

    cfg = train.build_config(train.parse_args(
        [TOY_CONFIG, '--work-dir', str(work_dir)]))
    assert cfg.resume is False and cfg.load_from is None

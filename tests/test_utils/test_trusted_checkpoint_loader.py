# Copyright (c) mmsemi contributors. All rights reserved.
"""mmsemi.utils.register_trusted_local_loader makes mmengine resume work on
torch >= 2.6 (weights_only=True by default)."""
import pickle
from collections import OrderedDict

import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import (CheckpointLoader, _load_checkpoint,
                                        load_from_local)

from mmsemi.utils import load_from_local_trusted, register_trusted_local_loader


@pytest.fixture
def mmengine_local_loader():
    """Start from mmengine's own local loader and restore the schemes after
    the test (importing mmsemi may already have replaced it)."""
    saved = OrderedDict(CheckpointLoader._schemes)
    CheckpointLoader.register_scheme('', load_from_local, force=True)
    yield
    CheckpointLoader._schemes = saved


@pytest.fixture
def runner_like_checkpoint(tmp_path):
    """A checkpoint shaped like mmengine Runner's: a message hub holding a
    HistoryBuffer next to the weights."""
    hub = MessageHub('mmsemi_test_trusted_loader')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/loss', 0.5)
    checkpoint = dict(
        meta=dict(iter=3, seed=0),
        state_dict=OrderedDict(weight=torch.arange(3.0)),
        message_hub=hub.state_dict())
    path = tmp_path / 'iter_3.pth'
    torch.save(checkpoint, path)
    return str(path)


def test_plain_torch_load_rejects_runner_checkpoint(runner_like_checkpoint):
    # The failure the loader works around (torch >= 2.6 default).
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(runner_like_checkpoint, weights_only=True)


def test_mmengine_loader_fails_without_registration(
        mmengine_local_loader, runner_like_checkpoint):
    with pytest.raises(pickle.UnpicklingError):
        _load_checkpoint(runner_like_checkpoint, map_location='cpu')


def test_registered_loader_loads_runner_checkpoint(
        mmengine_local_loader, runner_like_checkpoint):
    register_trusted_local_loader()
    register_trusted_local_loader()  # idempotent
    assert CheckpointLoader._get_checkpoint_loader(
        runner_like_checkpoint) is load_from_local_trusted

    checkpoint = _load_checkpoint(runner_like_checkpoint, map_location='cpu')

    assert torch.equal(checkpoint['state_dict']['weight'],
                       torch.tensor([0.0, 1.0, 2.0]))
    buffer = checkpoint['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.current() == 0.5
    assert buffer.mean() == 1.0  # (1.5 + 0.5) / 2


def test_remote_schemes_untouched(mmengine_local_loader):
    http_loader = CheckpointLoader._get_checkpoint_loader('https://x/y.pth')
    register_trusted_local_loader()
    assert CheckpointLoader._get_checkpoint_loader(
        'https://x/y.pth') is http_loader


def test_missing_file_raises(tmp_path):
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_from_local_trusted(missing)

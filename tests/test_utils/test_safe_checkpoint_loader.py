# Copyright (c) mmsemi contributors. All rights reserved.
"""After ``import mmsemi``, mmengine loads local checkpoints with
``weights_only=True`` plus the types mmengine writes: Runner checkpoints
load, a file asking for anything else is refused without running it, a
listed trusted file loads in full, and corrupt files are named."""
import io
import os
import os.path as osp
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import (CheckpointLoader, _load_checkpoint,
                                        load_checkpoint)

import mmsemi  # noqa: F401  (registers the loaders)
from mmsemi.utils import (TRUSTED_CHECKPOINTS_ENV, CorruptCheckpointError,
                          UnsafeCheckpointError, load_checkpoint_file,
                          package_checkpoint_path)
from mmsemi.utils.checkpoint import (checkpoint_safe_globals,
                                     load_from_local_safe)


@pytest.fixture
def runner_like_checkpoint(tmp_path):
    """A checkpoint shaped like mmengine Runner's: a message hub holding
    HistoryBuffers (float and int64 arrays) and a numpy scalar."""
    hub = MessageHub('mmsemi_test_safe_loader')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/loss', 0.5)
    hub.update_info('eta', np.float64(12.5))
    state = hub.state_dict()
    assert state['log_scalars']['train/loss']._count_history.dtype == \
        np.int64
    checkpoint = dict(
        meta=dict(iter=3, seed=0, cfg='model = dict(type="UniMatch")'),
        state_dict=OrderedDict(weight=torch.arange(3.0)),
        message_hub=state)
    path = tmp_path / 'iter_3.pth'
    torch.save(checkpoint, path)
    return str(path)


def _assert_runner_like(checkpoint: dict) -> None:
    assert torch.equal(checkpoint['state_dict']['weight'],
                       torch.tensor([0.0, 1.0, 2.0]))
    buffer = checkpoint['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.current() == 0.5
    assert buffer.mean() == 1.0  # (1.5 + 0.5) / 2
    eta = checkpoint['message_hub']['runtime_info']['eta']
    assert isinstance(eta, np.float64) and eta == 12.5


def test_plain_weights_only_load_rejects_runner_checkpoint(
        runner_like_checkpoint):
    # Why an allow-list is needed at all (torch >= 2.6 default).
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(runner_like_checkpoint, weights_only=True)


def test_mmengine_loads_runner_checkpoint_through_safe_loader(
        runner_like_checkpoint):
    assert CheckpointLoader._get_checkpoint_loader(
        runner_like_checkpoint) is load_from_local_safe
    _assert_runner_like(
        _load_checkpoint(runner_like_checkpoint, map_location='cpu'))
    _assert_runner_like(load_checkpoint_file(runner_like_checkpoint))


def test_allow_list_is_added_only_during_a_load(runner_like_checkpoint):
    """torch's global allow-list is untouched by import and by loading (a
    user's own entry survives), so plain weights-only loads still refuse."""
    ours = set(checkpoint_safe_globals())
    before = set(torch.serialization.get_safe_globals())
    assert not ours & before
    load_checkpoint_file(runner_like_checkpoint)
    assert set(torch.serialization.get_safe_globals()) == before
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(runner_like_checkpoint, weights_only=True)

    with torch.serialization.safe_globals([HistoryBuffer]):
        load_checkpoint_file(runner_like_checkpoint)
        assert HistoryBuffer in torch.serialization.get_safe_globals()


def _linear_model() -> torch.nn.Module:
    return torch.nn.Linear(2, 1)


ENTRY_POINTS = {
    'load_checkpoint_file': lambda path: load_checkpoint_file(path),
    '_load_checkpoint': lambda path: _load_checkpoint(path, 'cpu'),
    'load_checkpoint': lambda path: load_checkpoint(_linear_model(), path),
    'CheckpointLoader': lambda path: CheckpointLoader.load_checkpoint(path),
}


@pytest.mark.parametrize('entry', sorted(ENTRY_POINTS))
def test_malicious_checkpoint_is_refused_without_running(
        malicious_checkpoint, monkeypatch, entry):
    # The explicit weights_only=True also outranks torch's switch-off.
    monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    with pytest.raises(UnsafeCheckpointError) as info:
        ENTRY_POINTS[entry](malicious_checkpoint.path)
    message = str(info.value)
    assert f'checkpoint {malicious_checkpoint.path} for safety' in message
    assert f'`{malicious_checkpoint.refused_global}`' in message
    assert f'{TRUSTED_CHECKPOINTS_ENV}=' \
        f'{osp.realpath(malicious_checkpoint.path)}' in message
    assert isinstance(info.value, pickle.UnpicklingError)
    assert not osp.exists(malicious_checkpoint.marker)


class _AttributeOf:
    """Pickles as ``getattr(owner, name)``, as HistoryBuffer's statistics
    methods are."""

    def __init__(self, owner, name):
        self.owner, self.name = owner, name

    def __reduce__(self):
        return getattr, (self.owner, self.name)


def test_getattr_reaches_only_history_buffer_statistics(tmp_path):
    """A general getattr would hand out any attribute of an allowed type;
    ndarray.tofile writes files."""
    path = str(tmp_path / 'getattr.pth')
    torch.save(dict(meta=dict(x=_AttributeOf(np.ndarray, 'tofile'))), path)
    with pytest.raises(UnsafeCheckpointError,
                       match=r"builtins\.getattr\(numpy\.ndarray,'tofile'\)"):
        load_checkpoint_file(path)

    torch.save(dict(x=_AttributeOf(HistoryBuffer, 'mean')), path)
    assert load_checkpoint_file(path)['x'] is HistoryBuffer.mean


def test_checkpoint_cannot_swap_history_buffer_statistics(tmp_path):
    """HistoryBuffer.__setstate__ updates its class-wide statistics table
    from the file; a load leaves mmengine's own methods in place."""
    methods = HistoryBuffer._statistics_methods
    HistoryBuffer()  # registers the defaults
    saved = dict(methods)
    buffer = HistoryBuffer([1.0, 3.0], [1, 1])
    path = str(tmp_path / 'swapped.pth')
    methods['mean'] = HistoryBuffer.max
    try:
        torch.save(dict(buffer=buffer), path)
    finally:
        methods.clear()
        methods.update(saved)

    loaded = load_checkpoint_file(path)['buffer']
    assert loaded.statistics('mean') == 2.0
    assert HistoryBuffer._statistics_methods['mean'] is HistoryBuffer.mean


def test_numpy_1_global_names_load(tmp_path):
    """Checkpoints written with numpy 1 name ``numpy.core.multiarray``."""
    buffer = io.BytesIO()
    torch.save(dict(history=np.arange(3.0), eta=np.float64(2.5)), buffer,
               _use_new_zipfile_serialization=False)
    data = buffer.getvalue()
    assert data.count(b'numpy._core.multiarray') == 2
    path = tmp_path / 'numpy1.pth'
    path.write_bytes(
        data.replace(b'numpy._core.multiarray', b'numpy.core.multiarray'))
    loaded = load_checkpoint_file(str(path))
    assert np.array_equal(loaded['history'], [0.0, 1.0, 2.0])
    assert loaded['eta'] == 2.5


def test_listed_trusted_file_loads_with_full_unpickling(
        malicious_checkpoint, monkeypatch, tmp_path):
    other = tmp_path / 'other'
    other.mkdir()
    unlisted = str(other / 'downloaded.pth')
    with open(malicious_checkpoint.path, 'rb') as src:
        data = src.read()
    with open(unlisted, 'wb') as dst:
        dst.write(data)
    monkeypatch.setenv(
        TRUSTED_CHECKPOINTS_ENV,
        os.pathsep.join(['/no/such.pth', malicious_checkpoint.path]))

    # Only the listed file: the same bytes elsewhere are still refused.
    with pytest.raises(UnsafeCheckpointError):
        _load_checkpoint(unlisted)
    assert not osp.exists(malicious_checkpoint.marker)

    # Reached through a different spelling of the same path.
    spelled = osp.join(osp.dirname(malicious_checkpoint.path), '.',
                       osp.basename(malicious_checkpoint.path))
    checkpoint = _load_checkpoint(spelled)
    assert osp.exists(malicious_checkpoint.marker)  # full unpickling ran
    assert checkpoint['meta']['iter'] == 1


def _truncated(path: str, tmp_path) -> str:
    with open(path, 'rb') as f:
        data = f.read()
    out = str(tmp_path / 'truncated.pth')
    with open(out, 'wb') as f:
        f.write(data[:len(data) // 2])
    return out


@pytest.mark.parametrize('kind', ['truncated', 'garbage', 'empty'])
def test_corrupt_file_error_names_the_file(runner_like_checkpoint, tmp_path,
                                           kind):
    if kind == 'truncated':
        path = _truncated(runner_like_checkpoint, tmp_path)
    else:
        path = str(tmp_path / f'{kind}.pth')
        with open(path, 'wb') as f:
            f.write(b'' if kind == 'empty' else b'<html>not found</html>')
    with pytest.raises(CorruptCheckpointError) as info:
        _load_checkpoint(path, map_location='cpu')
    assert f'Cannot read the checkpoint {path}: the file is truncated or ' \
        'not a checkpoint' in str(info.value)


def test_truncated_trusted_file_is_named_too(runner_like_checkpoint,
                                             tmp_path, monkeypatch):
    path = _truncated(runner_like_checkpoint, tmp_path)
    monkeypatch.setenv(TRUSTED_CHECKPOINTS_ENV, path)
    with pytest.raises(CorruptCheckpointError, match='PytorchStreamReader'):
        load_checkpoint_file(path)


def test_remote_schemes_keep_mmengine_loaders():
    from mmengine.runner.checkpoint import load_from_http
    assert CheckpointLoader._get_checkpoint_loader(
        'https://x/y.pth') is load_from_http


def test_package_weights_load_through_safe_loader():
    name = 'standin_r18s_shapes12.pth'
    loaded = _load_checkpoint(f'mmsemi://{name}', map_location='cpu')
    expected = torch.load(package_checkpoint_path(name), weights_only=True)
    assert list(loaded) == list(expected)
    assert all(torch.equal(loaded[k], expected[k]) for k in expected)


def test_missing_file_raises(tmp_path):
    missing = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(missing)

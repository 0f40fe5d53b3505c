"""Test setup: the repository root is importable and mmseg is the default
registry scope, as in every mmsemi config (``default_scope='mmseg'``)."""
import os
import os.path as osp
import shlex
import sys
from collections import OrderedDict
from typing import NamedTuple

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import itertools  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402

_scope_names = (f'mmsemi-tests-{i}' for i in itertools.count())


def _ensure_mmseg_scope() -> None:
    # The newest DefaultScope instance is the current one, so a fresh name
    # is needed to make mmseg current again.
    current = DefaultScope.get_current_instance()
    if current is None or current.scope_name != 'mmseg':
        DefaultScope.get_instance(next(_scope_names), scope_name='mmseg')


_ensure_mmseg_scope()


@pytest.fixture(autouse=True)
def mmseg_default_scope():
    """A Runner built by a test may switch the default scope (to
    ``mmengine`` when it is given none); later tests expect mmseg's."""
    _ensure_mmseg_scope()
    yield


# --------------------------------------------------------------- device
# The equality tests against the official re-statements (marked `device`)
# run on the device given by `--device` or MMSEMI_TEST_DEVICE (default:
# cpu); tools/benchmark/gpu_check.sh runs them on CUDA.
def pytest_addoption(parser):
    parser.addoption(
        '--device',
        default=os.environ.get('MMSEMI_TEST_DEVICE', 'cpu'),
        help='device of the tests marked `device` (cpu, cuda, cuda:1, ...); '
        'default: $MMSEMI_TEST_DEVICE or cpu')


def pytest_configure(config):
    config.addinivalue_line(
        'markers', 'device: runs on the device of --device / '
        'MMSEMI_TEST_DEVICE (the official-step equality tests)')
    device = torch.device(config.getoption('--device'))
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise pytest.UsageError(
            f'--device {device} (or MMSEMI_TEST_DEVICE) asks for CUDA, but '
            'torch.cuda.is_available() is False: no GPU or a CPU build of '
            f'torch ({torch.__version__})')


@pytest.fixture(scope='session')
def device(request) -> torch.device:
    """The device of the equality tests. On CUDA, TF32 is switched off so
    that float32 convolutions and matrix products are comparable with the
    tests' float32 tolerances."""
    device = torch.device(request.config.getoption('--device'))
    if device.type == 'cuda':
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return device


class _WritesMarkerWhenUnpickled:
    """Unpickling this object runs ``touch <marker>`` (what a checkpoint
    from an untrusted source could do with any command)."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {shlex.quote(self.marker)}', )


class MaliciousCheckpoint(NamedTuple):
    path: str
    marker: str  # written if and only if the file was unpickled freely
    refused_global: str  # the global a weights-only load refuses


@pytest.fixture
def malicious_checkpoint(tmp_path) -> MaliciousCheckpoint:
    """A checkpoint shaped like a Runner's whose meta runs a command."""
    import torch
    path = str(tmp_path / 'downloaded.pth')
    marker = str(tmp_path / 'code_ran')
    torch.save(
        dict(
            meta=dict(iter=1, note=_WritesMarkerWhenUnpickled(marker)),
            state_dict=OrderedDict(weight=torch.zeros(2))), path)
    assert not osp.exists(marker)
    return MaliciousCheckpoint(path, marker,
                               f'{os.system.__module__}.{os.system.__name__}')

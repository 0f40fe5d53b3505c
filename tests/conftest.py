"""Test setup: the repository root is importable and mmseg is the default
registry scope, as in every mmsemi config (``default_scope='mmseg'``)."""
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import itertools  # noqa: E402

import pytest  # noqa: E402
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

"""Test setup: the repository root is importable and mmseg is the default
registry scope, as in every mmsemi config (``default_scope='mmseg'``)."""
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from mmengine.registry import DefaultScope  # noqa: E402

if DefaultScope.get_current_instance() is None:
    DefaultScope.get_instance('mmsemi-tests', scope_name='mmseg')

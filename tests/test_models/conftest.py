"""The helper modules of the model tests (``_tiny``, ``_toy_step``,
``_stock_heads``, ``_sync_detector`` and the oracles) live in this folder;
the tests in its sub-folders import them by name."""
import os.path as osp
import sys

HERE = osp.dirname(osp.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

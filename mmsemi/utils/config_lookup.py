# Copyright (c) mmsemi contributors. All rights reserved.
"""``mmsemi::`` config references (``_base_ = ['mmsemi::_base_/x.py']``).

mmengine 0.10.7 resolves ``package::path`` only for the OpenMMLab packages
listed in ``mmengine.config.utils.MODULE2PACKAGE``, and then looks for
``<installed package>/.mim/configs/path``. That misses mmsemi twice: the
name is not in the list, and a clone used through ``PYTHONPATH`` or an
editable install has no (or a stale) ``mmsemi/.mim``.

:func:`register_config_lookup` (called by ``import mmsemi``) wraps
``Config._get_cfg_path``, the one static method through which mmengine's
text-config parser resolves every ``_base_`` entry, and answers
``mmsemi::`` itself:

* from a source tree (``mmsemi/`` next to ``setup.py`` and ``configs/``,
  i.e. a clone on ``PYTHONPATH`` or an editable install), the clone's
  ``configs/``, so edits are seen at once;
* otherwise (a regular install), the installed ``mmsemi/.mim/configs``,
  which ``setup.py`` fills for wheels and ``mim``.

Every other reference goes to mmengine unchanged. The scope returned is
None, as for a relative ``../_base_/x.py``: mmsemi registers into mmseg's
registries, so ``mmsemi::_base_/x.py`` and ``../_base_/x.py`` give the same
config. If the private method is missing (another mmengine), mmsemi falls
back to adding itself to ``MODULE2PACKAGE``, which covers regular installs.

``Config.fromfile`` runs before ``custom_imports``, so a config with
``mmsemi::`` bases needs ``import mmsemi`` first; ``tools/train.py`` and
``tools/test.py`` (also under ``mim train/test mmsemi``) do that.
"""
import os.path as osp
import warnings
from typing import Callable, Optional, Tuple

from mmengine.config import Config

SCOPE = 'mmsemi'
PREFIX = SCOPE + '::'
# Marks the wrapper so that repeated registration does not stack wrappers.
_WRAPPED_ATTR = '_mmsemi_config_lookup'


def package_dir() -> str:
    """The directory of the imported ``mmsemi`` package."""
    return osp.dirname(osp.dirname(osp.abspath(__file__)))


def configs_dir(pkg_dir: Optional[str] = None) -> str:
    """The config folder that ``mmsemi::`` paths are relative to.

    Args:
        pkg_dir (str, optional): the ``mmsemi`` package directory; defaults
            to the imported one.

    Returns:
        str: ``<clone>/configs`` for a source tree, else
        ``<pkg_dir>/.mim/configs``.

    Raises:
        FileNotFoundError: if neither exists (an install built without the
            mim files), naming both places.
    """
    pkg_dir = pkg_dir or package_dir()
    root = osp.dirname(pkg_dir)
    source_configs = osp.join(root, 'configs')
    # A source tree may also hold a stale mmsemi/.mim copy from an earlier
    # `pip wheel .`, so the clone's own configs take precedence there.
    if (osp.isfile(osp.join(root, 'setup.py'))
            and osp.isdir(osp.join(source_configs, '_base_'))):
        return source_configs
    installed_configs = osp.join(pkg_dir, '.mim', 'configs')
    if osp.isdir(installed_configs):
        return installed_configs
    raise FileNotFoundError(
        f'mmsemi configs not found: neither {source_configs} (source tree) '
        f'nor {installed_configs} (regular install) exists; reinstall mmsemi '
        'with `pip install .` (not `pip install -e .` without setup.py '
        'develop)')


def resolve_config(reference: str, filename: str = '<config>') -> str:
    """Absolute path of an ``mmsemi::<path>`` reference.

    Args:
        reference (str): e.g. ``'mmsemi::_base_/semi/semi_data_voc12aug.py'``.
        filename (str): the config that holds the reference (for errors).

    Raises:
        FileNotFoundError: naming the reference, the referring config and
            the resolved path.
    """
    rel_path = reference[len(PREFIX):]
    path = osp.join(configs_dir(), rel_path)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f"{filename}: base config '{reference}' not found: {path} does "
            'not exist')
    return path


def _make_get_cfg_path(original: Callable) -> Callable:
    """Wrap mmengine's ``Config._get_cfg_path`` to answer ``mmsemi::``."""

    def _get_cfg_path(cfg_path: str,
                      filename: str) -> Tuple[str, Optional[str]]:
        if cfg_path.startswith(PREFIX):
            return resolve_config(cfg_path, filename), None
        return original(cfg_path, filename)

    setattr(_get_cfg_path, _WRAPPED_ATTR, original)
    return _get_cfg_path


def register_config_lookup() -> bool:
    """Make ``mmsemi::`` references resolvable by ``Config.fromfile``.

    Idempotent. Returns True if ``Config._get_cfg_path`` is wrapped, False
    if the fallback (``MODULE2PACKAGE``) had to be used.
    """
    current = getattr(Config, '_get_cfg_path', None)
    if current is not None and hasattr(current, _WRAPPED_ATTR):
        return True
    if not callable(current):
        from mmengine.config import utils as config_utils
        config_utils.MODULE2PACKAGE.setdefault(SCOPE, SCOPE)
        warnings.warn('mmengine.Config has no _get_cfg_path: `mmsemi::` '
                      'config references work from a regular install only')
        return False
    Config._get_cfg_path = staticmethod(_make_get_cfg_path(current))
    return True

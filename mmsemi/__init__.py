"""mmsemi: semi-supervised semantic segmentation for MMSegmentation 1.x.

Importing the package registers every component into mmseg's registries,
so configs only need ``custom_imports=dict(imports=['mmsemi'])``, registers
mmengine's checkpoint loaders for local paths (safe loading, see
mmsemi/utils/checkpoint.py) and ``mmsemi://``, and makes ``mmsemi::``
base-config references resolvable.
"""
from .version import __version__, version_info
from .utils.checkpoint import (register_package_checkpoints,
                               register_safe_local_loader)
from .utils.config_lookup import register_config_lookup

from . import datasets, engine, models  # noqa: F401,E402

# Local checkpoints load with weights_only=True plus the types mmengine
# writes (mmsemi/utils/checkpoint.py).
register_safe_local_loader()
# `mmsemi://NAME` for the weights shipped in mmsemi/checkpoints.
register_package_checkpoints()
# `_base_ = ['mmsemi::...']` in configs (mmsemi/utils/config_lookup.py).
register_config_lookup()

__all__ = ['__version__', 'version_info']

"""mmsemi: semi-supervised semantic segmentation for MMSegmentation 1.x.

Importing the package registers every component into mmseg's registries,
so configs only need ``custom_imports=dict(imports=['mmsemi'])``.
"""
from .version import __version__, version_info
from .utils.checkpoint import register_trusted_local_loader

from . import datasets, engine, models  # noqa: F401,E402

register_trusted_local_loader()

__all__ = ['__version__', 'version_info']

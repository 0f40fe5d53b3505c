# Copyright (c) mmsemi contributors. All rights reserved.
from .auto_resume import find_resumable_checkpoint
from .checkpoint import (TRUSTED_CHECKPOINTS_ENV, CheckpointLoadError,
                         CorruptCheckpointError, UnsafeCheckpointError,
                         load_checkpoint_file, package_checkpoint_path,
                         register_package_checkpoints,
                         register_safe_local_loader)
from .config_lookup import register_config_lookup
from .data_root import set_data_root
from .dist import setup_cpu_distributed


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register mmseg's and mmsemi's modules into mmseg's registries.

    mmsemi registers into mmseg's registries (no separate scope), so this is
    :func:`mmseg.utils.register_all_modules` followed by importing mmsemi.

    Args:
        init_default_scope (bool): Whether to set the default scope to
            ``'mmseg'``, as in mmseg. Defaults to True.
    """
    from mmseg.utils import register_all_modules as register_mmseg_modules
    register_mmseg_modules(init_default_scope=init_default_scope)
    import mmsemi  # noqa: F401  (imports every submodule, which registers)


__all__ = [
    'CheckpointLoadError', 'CorruptCheckpointError', 'TRUSTED_CHECKPOINTS_ENV',
    'UnsafeCheckpointError', 'find_resumable_checkpoint',
    'load_checkpoint_file', 'package_checkpoint_path',
    'register_all_modules', 'register_package_checkpoints',
    'register_config_lookup', 'register_safe_local_loader', 'set_data_root',
    'setup_cpu_distributed'
]

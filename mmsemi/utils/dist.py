# Copyright (c) mmsemi contributors. All rights reserved.
"""Distributed runs on machines without CUDA (gloo backend).

mmengine 0.10.7 assumes GPUs as soon as a launcher is used:

* ``mmengine.dist.init_dist`` calls ``torch.cuda.set_device(local_rank)``
  for the pytorch, slurm and mpi launchers, which raises on CPU-only torch
  builds and on machines without a GPU;
* ``Runner.wrap_model`` builds ``MMDistributedDataParallel`` with
  ``device_ids=[LOCAL_RANK]``, which DistributedDataParallel rejects for a
  module whose parameters are on the CPU.

:func:`setup_cpu_distributed` works around both before the Runner is built,
so ``tools/dist_train.sh CONFIG 2 --cfg-options env_cfg.dist_cfg.backend=gloo``
runs on CPU. On machines with CUDA it does nothing: mmengine's own path is
used unchanged.
"""
import logging
import platform
from unittest import mock

import torch
import torch.multiprocessing as mp
from mmengine.config import Config
from mmengine.dist import init_dist, is_distributed
from mmengine.logging import print_log
from mmengine.registry import MODEL_WRAPPERS
from torch.nn.parallel import DistributedDataParallel


def _no_cuda_set_device(device) -> None:
    """Stand-in for ``torch.cuda.set_device`` when there is no CUDA device."""


def setup_cpu_distributed(cfg: Config) -> bool:
    """Initialise a CPU process group and a CPU-compatible model wrapper.

    Reads ``cfg.launcher`` (set by ``tools/train.py`` from ``--launcher``) and
    ``cfg.env_cfg.dist_cfg``. When a launcher other than ``'none'`` is used
    and CUDA is unavailable:

    1. a ``'nccl'`` backend (mmengine's default) is replaced by ``'gloo'``
       with a warning, because NCCL needs GPUs;
    2. the process group is initialised through mmengine's ``init_dist``
       (so the launcher-specific environment handling is mmengine's) with
       ``torch.cuda.set_device`` disabled for the call; the Runner then
       sees an initialised group and skips its own ``init_dist``;
    3. ``cfg.model_wrapper_cfg`` gets ``device_ids=None`` (CPU DDP).

    Args:
        cfg (Config): The full config; modified in place.

    Returns:
        bool: Whether the CPU workaround was applied.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return False

    env_cfg = cfg.setdefault('env_cfg', dict())
    dist_cfg = env_cfg.setdefault('dist_cfg', dict())
    if dist_cfg.get('backend', 'nccl') == 'nccl':
        print_log(
            'CUDA is not available: using the gloo backend instead of nccl '
            '(set env_cfg.dist_cfg.backend=gloo to silence this warning).',
            logger='current',
            level=logging.WARNING)
        dist_cfg['backend'] = 'gloo'

    if not is_distributed():
        # Choose the config's start method now: init_dist would otherwise
        # pick 'spawn' and the Runner would force it back, with a warning.
        mp_cfg = env_cfg.get('mp_cfg', dict())
        if (platform.system() != 'Windows'
                and mp.get_start_method(allow_none=True) is None):
            mp.set_start_method(mp_cfg.get('mp_start_method', 'fork'))
        with mock.patch.object(torch.cuda, 'set_device', _no_cuda_set_device):
            init_dist(launcher, **dist_cfg)

    wrapper_cfg = cfg.get('model_wrapper_cfg', None)
    if wrapper_cfg is None:
        # mmengine's defaults when no wrapper is configured.
        wrapper_cfg = dict(
            type='MMDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper_type = MODEL_WRAPPERS.get(
        wrapper_cfg.get('type', 'MMDistributedDataParallel'))
    if isinstance(wrapper_type, type) and issubclass(wrapper_type,
                                                     DistributedDataParallel):
        wrapper_cfg['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper_cfg
    return True

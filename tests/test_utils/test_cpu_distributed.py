# Copyright (c) mmsemi contributors. All rights reserved.
"""mmsemi.utils.setup_cpu_distributed: gloo process group and CPU DDP
wrapper config when CUDA is unavailable."""
import socket

import pytest
import torch
import torch.multiprocessing as mp
import torch.distributed as torch_dist
from mmengine.config import Config

from mmsemi.utils import setup_cpu_distributed

no_cuda = pytest.mark.skipif(
    torch.cuda.is_available(), reason='checks the CPU-only path')


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture
def restore_start_method():
    saved = mp.get_start_method(allow_none=True)
    yield
    mp.set_start_method(saved, force=True)


def test_no_launcher_is_untouched():
    cfg = Config(dict(launcher='none', env_cfg=dict(dist_cfg=dict(
        backend='nccl'))))
    assert setup_cpu_distributed(cfg) is False
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'
    assert 'model_wrapper_cfg' not in cfg


@no_cuda
@pytest.mark.parametrize('wrapper', [None, dict(find_unused_parameters=True)])
def test_single_process_pytorch_launcher(monkeypatch, restore_start_method,
                                         wrapper):
    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.setenv('WORLD_SIZE', '1')
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', str(_free_port()))
    cfg = dict(launcher='pytorch', env_cfg=dict(dist_cfg=dict(
        backend='nccl')))
    if wrapper is not None:
        cfg['model_wrapper_cfg'] = wrapper
    cfg = Config(cfg)
    try:
        assert setup_cpu_distributed(cfg) is True
        assert torch_dist.is_initialized()
        assert torch_dist.get_backend() == 'gloo'
        assert torch_dist.get_world_size() == 1
    finally:
        if torch_dist.is_initialized():
            torch_dist.destroy_process_group()
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert mp.get_start_method() == 'fork'  # mmengine's default mp_cfg
    assert cfg.model_wrapper_cfg.device_ids is None
    if wrapper is None:
        assert cfg.model_wrapper_cfg.type == 'MMDistributedDataParallel'
        assert cfg.model_wrapper_cfg.find_unused_parameters is False
    else:
        assert cfg.model_wrapper_cfg.find_unused_parameters is True

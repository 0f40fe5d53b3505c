# Copyright (c) mmsemi contributors. All rights reserved.
"""The CPU-side pieces of the GPU checks: tools/benchmark/gpu_check.sh stops
clearly without CUDA, gpu_benchmark.py runs end to end in its smoke mode
(``--device cpu --tiny``) and prepares the VOC-size configs it times on a
GPU."""
import importlib.util
import os.path as osp
import subprocess

import pytest
import torch
from mmengine.runner import Runner

from ._helpers import REPO_ROOT, subprocess_env

CHECK = osp.join(REPO_ROOT, 'tools', 'benchmark', 'gpu_check.sh')
BENCH = osp.join(REPO_ROOT, 'tools', 'benchmark', 'gpu_benchmark.py')
_spec = importlib.util.spec_from_file_location('gpu_benchmark', BENCH)
gpu_benchmark = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_benchmark)

no_cuda = pytest.mark.skipif(torch.cuda.is_available(),
                             reason='checks the behaviour without CUDA')
#: Images per GPU and step of each method's VOC recipe (labeled +
#: unlabeled).
VOC_BATCH = {'UniMatch': 4, 'CorrMatch': 4, 'RankMatch': 4, 'U2PL': 8,
             'CSS': 16}


@no_cuda
def test_gpu_check_stops_without_cuda(tmp_path):
    env = subprocess_env()
    env['OUT'] = str(tmp_path / 'out')
    proc = subprocess.run(['bash', CHECK], cwd=str(tmp_path), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=300)
    assert proc.returncode == 2
    assert 'gpu_check.sh: no CUDA GPU' in proc.stdout
    assert not osp.exists(tmp_path / 'out')  # nothing ran


@no_cuda
def test_benchmark_refuses_cuda_without_cuda():
    with pytest.raises(SystemExit, match='CUDA is not available'):
        gpu_benchmark.main(['--device', 'cuda', '--tiny'])


@no_cuda
def test_tiny_smoke_run_times_every_method(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / 'table.md'
    rows = gpu_benchmark.main(['--device', 'cpu', '--tiny', '--iters', '1',
                               '--warmup', '0', '--out', str(out)])
    assert [(r['method'], r['precision']) for r in rows] == [
        (m, p) for m in gpu_benchmark.VOC_CONFIGS for p in ('fp32', 'amp')]
    for row in rows:
        if row['precision'] == 'amp':
            assert row['error'] == 'needs CUDA (AmpOptimWrapper)'
        else:
            assert 'error' not in row, row
            assert row['device'] == 'cpu' and row['images'] == 8
            assert len(row['step_ms']) == 1 and row['step_ms'][0] > 0
            assert row['cuda_syncs'] is None
    lines = out.read_text().splitlines()
    assert lines[0] == '| ' + ' | '.join(gpu_benchmark.HEADER) + ' |'
    assert len(lines) == 2 + len(rows)
    assert lines[2].startswith('| UniMatch | unimatch_r18s_toyshapes-1_16.py'
                               ' | fp32 | cpu | 8 | ')


def test_voc_rows_are_crop_513_resnet101_at_the_recipe_batch(tmp_path):
    """What the GPU table times: each method's VOC config on the mini VOC
    layout, offline, ResNet-101, crop 513, the recipe's batch per GPU (one
    batch loaded here), AMP through the optimizer wrapper."""
    data_root = gpu_benchmark.write_data(str(tmp_path / 'data'), tiny=False)
    for method, name in gpu_benchmark.VOC_CONFIGS.items():
        path = osp.join(gpu_benchmark.CONFIGS_DIR, name)
        cfg = gpu_benchmark.run_config(path, 'amp', data_root,
                                       str(tmp_path / method), tiny=False)
        assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
        assert cfg.model.type == method and cfg.model.pretrained is None
        segmentor = cfg.model.segmentor
        assert segmentor.backbone.depth == 101
        assert segmentor.data_preprocessor.size == (513, 513)
        if method == 'U2PL':
            assert cfg.model.semi_train_cfg.sup_only_iters == 0
        loader = dict(cfg.train_dataloader, num_workers=0,
                      persistent_workers=False)
        batch = next(iter(Runner.build_dataloader(loader, seed=0)))
        images = len(next(iter(batch['inputs'].values())))
        assert images == VOC_BATCH[method]

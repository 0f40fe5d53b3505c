# Copyright (c) mmsemi contributors. All rights reserved.
"""tools/benchmark/measure_memory.py: one training iteration of the toy
configs (each in its own subprocess), and its table."""
import importlib.util
import os.path as osp
import sys

from ._helpers import REPO_ROOT, TOY_CONFIG, run_checked, subprocess_env

SCRIPT = osp.join(REPO_ROOT, 'tools', 'benchmark', 'measure_memory.py')
TOY_SUPERVISED = osp.join(REPO_ROOT, 'configs', 'toy',
                          'supervised_r18s_toyshapes-1_16.py')


def _load_script():
    spec = importlib.util.spec_from_file_location('measure_memory', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(output: str):
    """The table rows (after the header and separator) as cell lists."""
    lines = [line for line in output.splitlines() if line.startswith('| ')]
    header = [c.strip() for c in lines[0].strip('|').split('|')]
    return header, [[c.strip() for c in line.strip('|').split('|')]
                    for line in lines[1:]]


def test_measure_memory_toy_configs(toy_data_root, tmp_path):
    out = run_checked([
        sys.executable, SCRIPT, TOY_CONFIG, TOY_SUPERVISED, '--work-dir',
        str(tmp_path / 'work')
    ],
                      cwd=toy_data_root,
                      env=subprocess_env(),
                      timeout=300)
    header, rows = _rows(out)
    assert header == [
        'config', 'device', 'images/process (labeled+unlabeled)', 'crop',
        'RSS before iter (GiB)', 'peak RSS (GiB)', 'iter time (s)'
    ], out
    assert [row[0] for row in rows] == [
        'unimatch_r18s_toyshapes-1_16.py', 'supervised_r18s_toyshapes-1_16.py'
    ], out
    # 4 labeled + 4 unlabeled, 8 labeled; 80x80 crops
    assert [row[2] for row in rows] == ['4+4', '8+0']
    for row in rows:
        assert row[1] == 'cpu (1 thread)'
        assert row[3] == '80x80'
        before, peak, seconds = float(row[4]), float(row[5]), float(row[6])
        assert peak > 0 and peak >= before > 0, row
        assert seconds >= 0
    # one work dir per config, no checkpoint written
    for name in ('unimatch_r18s_toyshapes-1_16',
                 'supervised_r18s_toyshapes-1_16'):
        work = tmp_path / 'work' / name
        assert work.is_dir()
        assert not list(work.glob('*.pth'))


def test_describe_batch_and_cuda_table():
    mm = _load_script()
    batch = mm.describe_batch({
        'sup': (2, 3, 321, 321),
        'unsup_weak': (2, 3, 321, 321),
        'unsup_strong': (2, 3, 321, 321)
    })
    assert batch == dict(labeled=2, unlabeled=2, crop='321x321')
    assert mm.describe_batch({'inputs': (4, 3, 64, 48)}) == dict(
        labeled=4, unlabeled=0, crop='64x48')
    result = dict(
        config='x.py', device='cuda', device_name='GPU', iter_s=0.25,
        rss_before=2**30, peak_rss_before=2**30, peak_rss=2**31,
        cuda_max_allocated=3 * 2**30, cuda_max_reserved=4 * 2**30,
        notes=['pretrained off'], **batch)
    lines = mm.format_table([result]).splitlines()
    assert 'CUDA max allocated (GiB)' in lines[0]
    assert 'peak RSS' not in lines[0]
    assert lines[2] == ('| x.py | cuda (GPU) | 2+2 | 321x321 | 1.00 | 3.00 '
                        '| 4.00 | 0.2 |')
    assert lines[-1] == '- x.py: pretrained off'

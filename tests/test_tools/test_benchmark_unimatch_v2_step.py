"""tools/benchmark/benchmark_unimatch_v2_step.py compares the two methods
on one student and times real training steps."""
import importlib.util
import os.path as osp

import pytest

from ._helpers import REPO_ROOT

SCRIPT = osp.join(REPO_ROOT, 'tools', 'benchmark',
                  'benchmark_unimatch_v2_step.py')
_spec = importlib.util.spec_from_file_location('bench_v2_step', SCRIPT)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_both_methods_wrap_the_same_student():
    v1 = bench.build_model('UniMatch', 'small', 28)
    v2 = bench.build_model('UniMatchV2', 'small', 28)
    assert type(v1).__name__ == 'UniMatch' and v1.teacher is None
    assert type(v2).__name__ == 'UniMatchV2' and v2.teacher is not None
    shapes = [{n: p.shape for n, p in m.student.named_parameters()}
              for m in (v1, v2)]
    assert shapes[0] == shapes[1]
    assert v1.student.backbone.embed_dims == 384  # DINOv2-S


class _Queue(list):
    put = list.append


def test_each_method_times_training_steps():
    """``measure`` (what each spawned process runs) times steps that
    train the student, and the table has a row per method."""
    args = bench.parse_args(['--crop', '28', '--iters', '2', '--warmup',
                             '0'])
    rows = _Queue()
    for method in bench.METHODS:
        bench.measure(method, 'cpu', args, rows)
    assert [r['method'] for r in rows] == ['UniMatch', 'UniMatchV2']
    assert all(r['median'] > 0 and r['mean'] > 0 for r in rows)
    text = bench.table(rows, args)
    assert '| UniMatchV2 | cpu |' in text and '| UniMatch | cpu |' in text


def test_crop_must_be_a_patch_multiple():
    with pytest.raises(SystemExit):
        bench.parse_args(['--crop', '100'])

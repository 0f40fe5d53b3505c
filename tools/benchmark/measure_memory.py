# Copyright (c) mmsemi contributors. All rights reserved.
"""Peak memory of one training iteration of a config.

Usage::

    python tools/benchmark/measure_memory.py CONFIG [CONFIG ...] \
        [--data-root DIR] [--work-dir DIR] [--cfg-options KEY=VALUE ...]

Builds the config and trains it exactly as ``tools/train.py`` does (its
``build_config``: ``--cfg-options``, ``--data-root`` for every dataset, the
work dir, the trusted-checkpoint loader; then ``Runner.from_cfg`` or the
config's runner type, and ``runner.train()``), forcing only:

- ``train_cfg.max_iters=1`` (one iteration, the first one);
- no validation (``val_dataloader``, ``val_cfg``, ``val_evaluator`` set to
  None, so mmengine's end-of-training validation does not run either);
- train data loading in the main process (``num_workers=0``,
  ``persistent_workers=False``);
- no checkpoint (``default_hooks.checkpoint=None``);
- ``model.pretrained=None`` (random initialisation) when a pretrained weight
  the config names is neither on disk nor in mmengine's download cache: the
  script never downloads; the run says so under the table.

The work dir is a temporary folder unless ``--work-dir`` is given (with
several configs: one sub-folder per config).

A hook added to the runner (lowest priority, so it runs after the other
hooks of the iteration, e.g. the EMA teacher update) records, before the
iteration, the process's resident set size (``VmRSS``; psutil when
installed) and on CUDA resets the peak statistics; after it, the peak:

- CPU: ``resource.getrusage(RUSAGE_SELF).ru_maxrss``, the peak resident set
  size of the whole process. It includes building the model, the optimiser
  state, the data and the Python/torch runtime, and it is the peak since
  the process started (a note says so when the iteration did not raise
  it), so the RSS before the iteration is printed as well;
- CUDA: ``torch.cuda.max_memory_allocated()`` and
  ``max_memory_reserved()`` of the iteration.

Images per process (labeled + unlabeled) and the crop are read from the
data preprocessor's output in the iteration (after padding to the crop).
The iteration time runs from the hook's ``before_train_iter`` to its
``after_train_iter`` (forward, losses, backward, optimiser step and the
other hooks; the batch is loaded before it).

Prints one markdown table row per config. Several configs run one after the
other, each in a subprocess of its own, so their peaks do not mix.
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

# See tools/train.py: prefer the clone's mmsemi when run from a clone.
_TOOLS_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
_REPO_ROOT = osp.dirname(_TOOLS_DIR)
if osp.isdir(osp.join(_REPO_ROOT, 'mmsemi')) and _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402
from mmengine.model import is_model_wrapper  # noqa: E402

import mmsemi  # noqa: E402,F401  (registers mmsemi modules into mmseg)
from mmsemi.utils.pretrained_weights import missing_weights  # noqa: E402

RESULT_MARKER = 'MEASURE_MEMORY_RESULT '
GIB = 2**30


def _load_train_tool():
    """tools/train.py as a module (its ``build_config`` and ``main``)."""
    path = osp.join(_TOOLS_DIR, 'train.py')
    spec = importlib.util.spec_from_file_location('mmsemi_tools_train', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _CfgOptionsAction(DictAction):
    """``DictAction`` that also keeps the raw ``KEY=VALUE`` strings, to
    hand them on to the per-config subprocesses."""

    def __call__(self, parser, namespace, values, option_string=None):
        super().__call__(parser, namespace, values, option_string)
        setattr(namespace, 'cfg_options_raw', list(values))


def parse_args(
        argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Peak memory of one training iteration of a config')
    parser.add_argument(
        'configs', nargs='+', metavar='CONFIG', help='train config file(s)')
    parser.add_argument(
        '--data-root',
        help='data root of every train/val/test dataset, as in '
        'tools/train.py')
    parser.add_argument(
        '--work-dir',
        help='work dir (default: a temporary folder); with several configs '
        'one sub-folder per config')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=_CfgOptionsAction,
        default=None,
        help='override config settings, as in tools/train.py (applied '
        'before the forced one-iteration settings)')
    # internal: measure one config here and print the result as JSON
    parser.add_argument('--json', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not hasattr(args, 'cfg_options_raw'):
        args.cfg_options_raw = []
    return args


# --------------------------------------------------------------- measuring
def current_rss_bytes() -> int:
    """Resident set size of this process now."""
    try:
        import psutil
        return psutil.Process().memory_info().rss
    except ImportError:
        pass
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024  # kB
    raise RuntimeError('no VmRSS in /proc/self/status')


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _shapes(inputs: Any) -> Dict[str, Sequence[int]]:
    """Branch name -> shape of the preprocessed input tensor."""
    if isinstance(inputs, dict):
        return {
            k: tuple(v.shape)
            for k, v in inputs.items() if isinstance(v, torch.Tensor)
        }
    if isinstance(inputs, torch.Tensor):
        return {'inputs': tuple(inputs.shape)}
    return {}


def describe_batch(shapes: Dict[str, Sequence[int]]) -> Dict[str, Any]:
    """Labeled and unlabeled images and the crop from the preprocessed
    inputs: the ``sup`` branch (or a plain tensor) holds the labeled ones,
    the other branches (weak/strong views) each hold the unlabeled ones."""
    labeled = unlabeled = 0
    sizes = set()
    for branch, shape in shapes.items():
        if branch in ('sup', 'inputs'):
            labeled = shape[0]
        else:
            unlabeled = max(unlabeled, shape[0])
        sizes.add(tuple(shape[-2:]))
    crop = ','.join(f'{h}x{w}' for h, w in sorted(sizes)) or '?'
    return dict(labeled=labeled, unlabeled=unlabeled, crop=crop)


class PeakMemoryHook(Hook):
    """Memory and time of the first training iteration (see the module
    docstring); the result is in :attr:`result` after training."""

    priority = 'LOWEST'

    def __init__(self) -> None:
        self.result: Optional[Dict[str, Any]] = None
        self._shapes: Dict[str, Sequence[int]] = {}
        self._recording = False
        self._start = 0.0
        self._rss_before = 0
        self._peak_rss_before = 0

    def before_train(self, runner) -> None:
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        preprocessor = model.data_preprocessor
        forward = preprocessor.forward

        def recording_forward(*args, **kwargs):
            out = forward(*args, **kwargs)
            if self._recording and not self._shapes and isinstance(
                    out, dict):
                self._shapes = _shapes(out.get('inputs'))
            return out

        preprocessor.forward = recording_forward

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch: Any = None) -> None:
        if self.result is not None:
            return
        self._cuda = torch.cuda.is_available() and next(
            runner.model.parameters()).is_cuda
        if self._cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self._rss_before = current_rss_bytes()
        self._peak_rss_before = peak_rss_bytes()
        self._recording = True
        self._start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None,
                         outputs: Any = None) -> None:
        if self.result is not None or not self._recording:
            return
        if self._cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - self._start
        self._recording = False
        result = dict(
            device=('cuda' if self._cuda else 'cpu'),
            iter_s=seconds,
            rss_before=self._rss_before,
            peak_rss_before=self._peak_rss_before,
            peak_rss=peak_rss_bytes(),
            **describe_batch(self._shapes))
        if self._cuda:
            result.update(
                device_name=torch.cuda.get_device_name(),
                cuda_max_allocated=torch.cuda.max_memory_allocated(),
                cuda_max_reserved=torch.cuda.max_memory_reserved())
        else:
            result.update(threads=torch.get_num_threads())
        self.result = result


# ------------------------------------------------------------- one config
def force_one_iteration(cfg: Config) -> List[str]:
    """Apply the forced settings; returns notes for the output."""
    notes = []
    cfg.train_cfg.max_iters = 1
    cfg.train_cfg.val_interval = 2**31 - 1
    # mmengine validates at the last iteration whatever val_interval says;
    # without a val loop it cannot.
    cfg.val_dataloader = None
    cfg.val_cfg = None
    cfg.val_evaluator = None
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.default_hooks.checkpoint = None

    missing = missing_weights(cfg.model, download=False)
    if missing:
        # On an mmsemi wrapper this switches off every pretrained weight of
        # the wrapped segmentor; on a stock segmentor, its `pretrained`.
        cfg.model.pretrained = None
        cleared = ['model.pretrained']
        for item in missing_weights(cfg.model, download=False):
            cfg.merge_from_dict({item.ref.clear_key: None})
            cleared.append(item.ref.clear_key)
        notes.append('pretrained weights not available offline ('
                     + ', '.join(sorted({m.location for m in missing}))
                     + '): ' + ', '.join(f'{k}=None' for k in cleared)
                     + ' (random initialisation)')
    return notes


def measure(config: str, data_root: Optional[str], work_dir: Optional[str],
            cfg_options: Optional[dict]) -> Dict[str, Any]:
    """Build and train ``config`` for one iteration in this process, as
    tools/train.py does; returns the hook's result."""
    train_tool = _load_train_tool()
    with tempfile.TemporaryDirectory() as tmp:
        args = argparse.Namespace(
            config=config,
            work_dir=work_dir or tmp,
            resume=False,
            amp=False,
            auto_scale_lr=False,
            data_root=data_root,
            cfg_options=cfg_options,
            launcher='none')
        cfg = train_tool.build_config(args)
        notes = force_one_iteration(cfg)
        train_tool.check_pretrained_weights(cfg.model)
        if 'runner_type' not in cfg:
            runner = train_tool.Runner.from_cfg(cfg)
        else:
            runner = train_tool.RUNNERS.build(cfg)
        hook = PeakMemoryHook()
        runner.register_hook(hook, priority='LOWEST')
        runner.train()
    if hook.result is None:
        raise RuntimeError(f'{config}: no training iteration ran')
    return dict(hook.result, config=osp.basename(config), notes=notes)


# ------------------------------------------------------------------ output
def _gib(nbytes: float) -> str:
    return f'{nbytes / GIB:.2f}'


def format_table(results: List[Dict[str, Any]]) -> str:
    """The markdown table of the results, then notes."""
    cuda = [r['device'] == 'cuda' for r in results]
    header = ['config', 'device', 'images/process (labeled+unlabeled)',
              'crop', 'RSS before iter (GiB)']
    if not all(cuda):
        header.append('peak RSS (GiB)')
    if any(cuda):
        header += ['CUDA max allocated (GiB)', 'CUDA max reserved (GiB)']
    header.append('iter time (s)')
    lines = [
        '| ' + ' | '.join(header) + ' |',
        '|' + '|'.join('---' for _ in header) + '|',
    ]
    notes = []
    for r in results:
        if r['device'] == 'cuda':
            device = f'cuda ({r["device_name"]})'
        else:
            device = f'cpu ({r["threads"]} thread' + (
                's)' if r['threads'] != 1 else ')')
        row = [
            r['config'], device, f'{r["labeled"]}+{r["unlabeled"]}',
            r['crop'], _gib(r['rss_before'])
        ]
        if not all(cuda):
            row.append(_gib(r['peak_rss']) if r['device'] == 'cpu' else '-')
        if any(cuda):
            row += ([_gib(r['cuda_max_allocated']),
                     _gib(r['cuda_max_reserved'])]
                    if r['device'] == 'cuda' else ['-', '-'])
        row.append(f'{r["iter_s"]:.1f}')
        lines.append('| ' + ' | '.join(row) + ' |')
        for note in r.get('notes', []):
            notes.append(f'- {r["config"]}: {note}')
        if r['device'] == 'cpu' and r['peak_rss'] <= r['peak_rss_before']:
            notes.append(f'- {r["config"]}: the peak RSS was reached before '
                         'the iteration (building the model / data)')
    return '\n'.join(lines + ([''] + notes if notes else []))


def _child_command(args: argparse.Namespace, config: str) -> List[str]:
    cmd = [sys.executable, osp.abspath(__file__), config, '--json']
    if args.data_root is not None:
        cmd += ['--data-root', args.data_root]
    if args.work_dir is not None:
        cmd += [
            '--work-dir',
            osp.join(args.work_dir,
                     osp.splitext(osp.basename(config))[0])
        ]
    if args.cfg_options_raw:
        cmd += ['--cfg-options', *args.cfg_options_raw]
    return cmd


def run_isolated(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """Each config in a subprocess of its own (one after the other); its
    log goes to stderr, its result comes back as one JSON line."""
    results = []
    for config in args.configs:
        proc = subprocess.run(
            _child_command(args, config),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True)
        found = None
        for line in proc.stdout.splitlines():
            if line.startswith(RESULT_MARKER):
                found = json.loads(line[len(RESULT_MARKER):])
            else:
                print(line, file=sys.stderr)
        if proc.returncode != 0 or found is None:
            raise SystemExit(f'{config}: measurement failed (exit code '
                             f'{proc.returncode}); see the log above')
        results.append(found)
    return results


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    if len(args.configs) == 1:
        result = measure(args.configs[0], args.data_root, args.work_dir,
                         args.cfg_options)
        sys.stdout.flush()
        if args.json:
            print(RESULT_MARKER + json.dumps(result), flush=True)
            return
        results = [result]
    else:
        results = run_isolated(args)
    print(format_table(results), flush=True)


if __name__ == '__main__':
    os.environ.setdefault('LOCAL_RANK', '0')
    main()

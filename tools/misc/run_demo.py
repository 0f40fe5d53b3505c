"""The embedded demo: supervised-only vs. UniMatch, CorrMatch and U2PL on
ToyShapes, on the CPU.

Steps (each a plain ``tools/train.py`` run, so the demo exercises exactly
what a user runs):

1. generate the ToyShapes dataset if ``--data-root`` does not hold it;
2. a short supervised warm-up on the labeled split (the stand-in for the
   ImageNet weights every published recipe starts from);
3. for each seed, four arms start from the warm-up checkpoint, two at a
   time side by side with one CPU thread each (supervised-only next to
   UniMatch, then CorrMatch next to U2PL), so every arm gets the same
   hardware: supervised-only on the labeled split, the three
   semi-supervised methods on the labeled + unlabeled split. Their
   iteration counts are calibrated so that every arm takes about the same
   wall-clock time (measured and printed);
4. every arm is evaluated on the 300 validation images with mmseg's
   IoUMetric and a table with the per-seed mIoU, mean and spread is
   printed and written to ``<work-dir>/summary.md`` and ``summary.json``.

Usage::

    python tools/misc/run_demo.py [--work-dir work_dirs/demo] [--seeds 0 1]
        [--arms supervised unimatch corrmatch u2pl]
"""
import argparse
import glob
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

SUP_CONFIG = osp.join(REPO, 'configs/toy/supervised_r18s_toyshapes-1_16.py')
UNI_CONFIG = osp.join(REPO, 'configs/toy/unimatch_r18s_toyshapes-1_16.py')
CORR_CONFIG = osp.join(REPO,
                       'configs/toy/corrmatch_r18s_toyshapes-1_16.py')
U2PL_CONFIG = osp.join(REPO, 'configs/toy/u2pl_r18s_toyshapes-1_16.py')
ARMS = ('supervised', 'unimatch', 'corrmatch', 'u2pl')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/toyshapes')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--split', default='1_16',
                        help='labeled split of ToyShapes (default 1_16)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    parser.add_argument('--warmup-iters', type=int, default=2000)
    parser.add_argument('--arms', nargs='+', choices=ARMS, default=ARMS,
                        help='arms to train, two at a time side by side '
                        '(default: all four)')
    parser.add_argument('--sup-iters', type=int, default=1500,
                        help='supervised-only iterations after warm-up')
    parser.add_argument('--unimatch-iters', type=int, default=600,
                        help='UniMatch iterations after warm-up')
    parser.add_argument('--corrmatch-iters', type=int, default=560,
                        help='CorrMatch iterations after warm-up')
    parser.add_argument('--u2pl-iters', type=int, default=830,
                        help='U2PL iterations after warm-up')
    parser.add_argument('--lr', type=float, default=0.05,
                        help='base lr of the arms after the warm-up')
    parser.add_argument('--sequential', action='store_true',
                        help='run the arms one after the other with '
                        'two threads each instead of two side by side')
    return parser.parse_args()


def data_options(data_root: str, split: str) -> List[str]:
    """``--cfg-options`` pointing both configs at ``data_root``/``split``."""
    return [
        f'train_dataloader.dataset.data_root={data_root}',
        f'train_dataloader.dataset.split_file=splits/{split}/labeled.txt',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
    ]


def semi_data_options(data_root: str, split: str) -> List[str]:
    return [
        f'train_dataloader.dataset.datasets.0.data_root={data_root}',
        'train_dataloader.dataset.datasets.0.split_file='
        f'splits/{split}/labeled.txt',
        f'train_dataloader.dataset.datasets.1.data_root={data_root}',
        'train_dataloader.dataset.datasets.1.split_file='
        f'splits/{split}/unlabeled.txt',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
    ]


def train_command(config: str, work_dir: str, iters: int, seed: int,
                  extra: List[str]) -> List[str]:
    return [
        sys.executable, osp.join(REPO, 'tools/train.py'), config,
        '--work-dir', work_dir, '--cfg-options',
        f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
        f'param_scheduler.0.end={iters}',
        f'default_hooks.checkpoint.interval={iters}',
        f'randomness.seed={seed}', *extra
    ]


def launch(cmd: List[str], log_path: str, threads: int) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), PYTHONUNBUFFERED='1')
    log = open(log_path, 'w')
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                            env=env, cwd=REPO)


def wait(procs: Dict[str, subprocess.Popen], logs: Dict[str, str],
         start: float) -> Dict[str, float]:
    """Wait for every process; return each one's wall-clock seconds."""
    elapsed = {}
    pending = dict(procs)
    while pending:
        for name, proc in list(pending.items()):
            if proc.poll() is not None:
                elapsed[name] = time.time() - start
                del pending[name]
                if proc.returncode != 0:
                    for other in pending.values():
                        other.kill()
                    tail = open(logs[name]).read()[-3000:]
                    raise RuntimeError(
                        f'{name} failed (exit {proc.returncode}); '
                        f'log {logs[name]}:\n{tail}')
        time.sleep(1)
    return elapsed


def final_miou(work_dir: str) -> float:
    """mIoU of the last validation in ``work_dir`` (mmengine's scalars)."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no scalars.json under {work_dir}')
    miou: Optional[float] = None
    with open(files[-1]) as f:
        for line in f:
            record = json.loads(line)
            if 'mIoU' in record:
                miou = record['mIoU']
    if miou is None:
        raise ValueError(f'{files[-1]} holds no mIoU')
    return miou


def ensure_data(data_root: str) -> None:
    if osp.exists(osp.join(data_root, 'toy_shapes.json')):
        return
    from mmsemi.datasets import generate_toy_shapes
    start = time.time()
    print(f'generating ToyShapes in {data_root} ...', flush=True)
    generate_toy_shapes(data_root)
    print(f'generated in {time.time() - start:.1f} s', flush=True)


LABELS = dict(supervised='supervised-only', unimatch='UniMatch',
              corrmatch='CorrMatch', u2pl='U2PL')


def summarise(rows: List[dict], warmup: dict, args) -> str:
    lines = [
        f'ToyShapes, split {args.split}: warm-up {args.warmup_iters} '
        f'supervised iterations ({warmup["seconds"]:.0f} s) reached '
        f'{warmup["mIoU"]:.2f} mIoU; then per seed every arm ran from that '
        'checkpoint, two arms side by side.', '',
        '| arm | seed | iterations | wall-clock (s) | mIoU |',
        '| --- | --- | --- | --- | --- |'
    ]
    for row in rows:
        lines.append(f'| {row["arm"]} | {row["seed"]} | {row["iters"]} | '
                     f'{row["seconds"]:.0f} | {row["mIoU"]:.2f} |')
    lines += ['', '| arm | mean mIoU | min | max |',
              '| --- | --- | --- | --- |']
    means = {}
    for arm in args.arms:
        values = [r['mIoU'] for r in rows if r['arm'] == arm]
        means[arm] = statistics.mean(values)
        lines.append(f'| {arm} | {means[arm]:.2f} | {min(values):.2f} | '
                     f'{max(values):.2f} |')
    if 'supervised' in means:
        lines.append('')
        for arm in args.arms:
            if arm != 'supervised':
                lines.append(f'{LABELS[arm]} - supervised-only: '
                             f'{means[arm] - means["supervised"]:+.2f} mIoU')
    return '\n'.join(lines)


def arm_settings(args, data_root: str) -> Dict[str, tuple]:
    """Per arm: (config, iterations, extra ``--cfg-options``)."""
    sup = data_options(data_root, args.split)
    semi = semi_data_options(data_root, args.split)
    # U2PL starts from the warm-up, so its supervised-only phase is done:
    # the teacher copies the student after the first step, and the
    # drop-rate schedule spans this arm's iterations.
    u2pl = [*semi, f'model.semi_train_cfg.max_iters={args.u2pl_iters}',
            'model.semi_train_cfg.sup_only_iters=0',
            'custom_hooks.0.begin_iter=0']
    settings = dict(supervised=(SUP_CONFIG, args.sup_iters, sup),
                    unimatch=(UNI_CONFIG, args.unimatch_iters, semi),
                    corrmatch=(CORR_CONFIG, args.corrmatch_iters, semi),
                    u2pl=(U2PL_CONFIG, args.u2pl_iters, u2pl))
    return {arm: settings[arm] for arm in args.arms}


def run_group(group: Dict[str, tuple], seed: int, warm_ckpt: str,
              work_dir: str, args) -> List[dict]:
    """Train the arms of ``group`` side by side (or one after the other
    with ``--sequential``) and return their rows."""
    procs, logs, elapsed = {}, {}, {}
    start = time.time()
    for arm, (config, iters, options) in group.items():
        arm_dir = osp.join(work_dir, f'{arm}_seed{seed}')
        logs[arm] = arm_dir + '.log'
        cmd = train_command(
            config, arm_dir, iters, seed,
            [*options, f'load_from={warm_ckpt}',
             f'optim_wrapper.optimizer.lr={args.lr}'])
        print(f'seed {seed}: {arm} for {iters} iterations ...', flush=True)
        procs[arm] = launch(cmd, logs[arm], 2 if args.sequential else 1)
        if args.sequential:
            elapsed.update(wait({arm: procs.pop(arm)}, {arm: logs[arm]},
                                start))
            start = time.time()
    elapsed.update(wait(procs, logs, start))
    rows = []
    for arm, (_, iters, _) in group.items():
        miou = final_miou(osp.join(work_dir, f'{arm}_seed{seed}'))
        rows.append(dict(arm=arm, seed=seed, iters=iters,
                         seconds=elapsed[arm], mIoU=miou))
        print(f'seed {seed}: {arm} mIoU {miou:.2f} ({elapsed[arm]:.0f} s)',
              flush=True)
    return rows


def main() -> None:
    args = parse_args()
    data_root = osp.abspath(args.data_root)
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    demo_start = time.time()
    ensure_data(data_root)

    warm_dir = osp.join(work_dir, 'warmup')
    warm_ckpt = osp.join(warm_dir, f'iter_{args.warmup_iters}.pth')
    start = time.time()
    if not osp.exists(warm_ckpt):
        print(f'warm-up: {args.warmup_iters} supervised iterations ...',
              flush=True)
        log = osp.join(work_dir, 'warmup.log')
        proc = launch(
            train_command(SUP_CONFIG, warm_dir, args.warmup_iters, 0,
                          data_options(data_root, args.split)), log, 2)
        wait({'warm-up': proc}, {'warm-up': log}, start)
    warmup = dict(seconds=time.time() - start, mIoU=final_miou(warm_dir))
    print(f'warm-up mIoU {warmup["mIoU"]:.2f}', flush=True)

    arms = list(arm_settings(args, data_root).items())
    groups = [dict(arms[i:i + 2]) for i in range(0, len(arms), 2)]
    rows = []
    for seed in args.seeds:
        for group in groups:
            rows += run_group(group, seed, warm_ckpt, work_dir, args)

    table = summarise(rows, warmup, args)
    total = time.time() - demo_start
    table += f'\n\nDemo wall-clock: {total / 60:.1f} min'
    print('\n' + table)
    with open(osp.join(work_dir, 'summary.md'), 'w') as f:
        f.write(table + '\n')
    with open(osp.join(work_dir, 'summary.json'), 'w') as f:
        json.dump(dict(warmup=warmup, runs=rows, seconds=total,
                       args=vars(args)), f, indent=2)


if __name__ == '__main__':
    main()

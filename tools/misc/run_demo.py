"""The embedded demo: supervised-only vs. UniMatch, CorrMatch, U2PL,
RankMatch and CSS on the ResNet stand-in, and supervised-only vs. UniMatch
and UniMatch V2 on the ViT stand-in, on ToyShapes, on the CPU, under one
protocol.

Protocol (checked by :func:`check_protocol`):

* every arm of a student starts from the same shipped stand-in weights
  (the toy model bases load ``mmsemi://standin_r18s_shapes12.pth`` into the
  ResNet and ``mmsemi://standin_vit-t-p8_shapes12.pth`` into the ViT), and
  every arm is validated on the same 300 validation images;
* every arm trains on the same labeled split with the same labeled batch
  size and the same number of iterations; the semi-supervised arms add as
  many unlabeled images per step; the arms of one student share its
  optimiser (ResNet: SGD, ``--lr``; ViT: UniMatch V2's AdamW);
* the supervised arms run at least as many iterations as the
  semi-supervised arms of their student, are validated every ``--sup-val-interval``
  iterations and report their **best** validation mIoU (they cannot lose
  by being under- or over-trained); every semi-supervised arm reports its
  **final** mIoU (UniMatch V2: its EMA teacher's, the model the paper
  reports; the student's is kept in the row);
* a supervised arm on all 2,000 training labels, run like the supervised
  arm, gives the upper bound (the default run has the ResNet's;
  ``--arms all_labels_vit`` adds the ViT's), so the table shows the
  fraction of the gap between supervised-only and all labels that each
  method closes; each method is compared with its own student's arms.

Each arm is a plain ``tools/train.py`` run (what a user runs); ``--jobs``
of them (default: one per available CPU core) run side by side with one
CPU thread each, the longest first, the next arm starting when one ends.
A finished arm is reused when its command is unchanged (up to the
interpreter and the clone's path), so ``--seeds 0 1``
after the default run adds seed 1 only. The summary (``summary.md``,
``summary.json``) and a picture (``demo.png``: validation images, ground
truth and every arm's prediction; mIoU per arm with the seed spread) are
written to ``--work-dir``.

Usage::

    python tools/misc/run_demo.py [--seeds 0 1] [--arms supervised unimatch]
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
from typing import Dict, List, Optional, Tuple

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

CONFIGS = {
    arm: osp.join(REPO, 'configs', 'toy', f'{name}_toyshapes-1_16.py')
    for arm, name in dict(
        supervised='supervised_r18s',
        unimatch='unimatch_r18s',
        corrmatch='corrmatch_r18s',
        u2pl='u2pl_r18s',
        rankmatch='rankmatch_r18s',
        css='css_r18s',
        supervised_vit='supervised_vit-t-p8-dpt',
        unimatch_vit='unimatch_vit-t-p8-dpt',
        unimatch_v2='unimatch-v2_vit-t-p8-dpt').items()
}
CONFIGS['all_labels'] = CONFIGS['supervised']
CONFIGS['all_labels_vit'] = CONFIGS['supervised_vit']
#: Arms on the ViT stand-in (the others are on the ResNet stand-in).
VIT_ARMS = ('supervised_vit', 'unimatch_vit', 'unimatch_v2',
            'all_labels_vit')
SEMI_ARMS = ('unimatch', 'corrmatch', 'u2pl', 'rankmatch', 'css',
             'unimatch_vit', 'unimatch_v2')
ARMS = ('supervised', 'unimatch', 'corrmatch', 'u2pl', 'rankmatch', 'css',
        'all_labels', 'supervised_vit', 'unimatch_vit', 'unimatch_v2',
        'all_labels_vit')
#: The default demo: every arm but the ViT's all-labels arm.
DEFAULT_ARMS = tuple(arm for arm in ARMS if arm != 'all_labels_vit')
SUPERVISED_ARMS = ('supervised', 'all_labels', 'supervised_vit',
                   'all_labels_vit')
UPPER_BOUNDS = ('all_labels', 'all_labels_vit')
#: Launch order, the longest arm of the default demo first (measured on
#: one core each), so the short ones fill the slots at the end.
LAUNCH_ORDER = ('corrmatch', 'rankmatch', 'unimatch', 'css', 'u2pl',
                'all_labels', 'supervised', 'unimatch_vit', 'unimatch_v2',
                'supervised_vit', 'all_labels_vit')
#: Iterations of the ViT arms (semi-supervised, and the minimum of the
#: supervised ones): a sixth of the ResNet arms' 3,600, so that the default
#: demo, every arm, fits 30 minutes on 2 CPU cores; every arm on the ViT
#: runs it (the arms of one student share one schedule).
VIT_ITERS = 600
#: The metric an arm reports; UniMatch V2 validates its student and its EMA
#: teacher and reports the teacher (the paper's model).
METRIC = dict(unimatch_v2='teacher/mIoU')
LABELS = dict(supervised='supervised-only', unimatch='UniMatch',
              corrmatch='CorrMatch', u2pl='U2PL', rankmatch='RankMatch',
              css='CSS',
              all_labels='all labels (supervised)',
              supervised_vit='supervised-only (ViT)',
              unimatch_vit='UniMatch (ViT)',
              unimatch_v2='UniMatch V2 (ViT)',
              all_labels_vit='all labels (supervised, ViT)')
ALL_TRAIN = 'ImageSets/Segmentation/train.txt'


def baseline(arm: str) -> str:
    """The supervised-only arm on ``arm``'s student."""
    return 'supervised_vit' if arm in VIT_ARMS else 'supervised'


def upper_bound(arm: str) -> str:
    """The all-labels arm on ``arm``'s student."""
    return 'all_labels_vit' if arm in VIT_ARMS else 'all_labels'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/toyshapes')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--split', default='1_64',
                        help='labeled split of ToyShapes')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--arms', nargs='+', choices=ARMS,
                        default=DEFAULT_ARMS,
                        help='arms to train (the all-labels arm of each '
                        'chosen ResNet arm is added unless '
                        '--no-upper-bound)')
    parser.add_argument('--no-upper-bound', action='store_true',
                        help='skip the all-labels arm')
    parser.add_argument('--labeled-batch', type=int, default=4,
                        help='labeled images per step, every arm (the '
                        'semi-supervised arms add as many unlabeled)')
    parser.add_argument('--iters', type=int, default=3600,
                        help='iterations of the semi-supervised ResNet arms')
    parser.add_argument('--sup-iters', type=int, default=None,
                        help='iterations of the supervised ResNet arms '
                        '(default and minimum: --iters)')
    parser.add_argument('--vit-iters', type=int, default=VIT_ITERS,
                        help='iterations of the semi-supervised ViT arms')
    parser.add_argument('--vit-sup-iters', type=int, default=None,
                        help='iterations of the supervised ViT arms '
                        '(default and minimum: --vit-iters)')
    parser.add_argument('--sup-val-interval', type=int, default=300,
                        help='validation interval of the supervised arms '
                        '(best-of-run)')
    parser.add_argument('--lr', type=float, default=0.005,
                        help='backbone lr of the ResNet arms (SGD, heads '
                        "10x); the ViT arms keep their config's "
                        "(UniMatch V2's AdamW)")
    parser.add_argument('--picture-images', type=int, default=4)
    parser.add_argument('--jobs', type=int, default=None,
                        help='arms trained side by side, one CPU thread '
                        'each (default: the available CPU cores)')
    parser.add_argument('--sequential', action='store_true',
                        help='one arm at a time with two threads')
    args = parser.parse_args(argv)
    if args.sup_iters is None:
        args.sup_iters = args.iters
    if args.vit_sup_iters is None:
        args.vit_sup_iters = args.vit_iters
    if args.jobs is None:
        args.jobs = len(os.sched_getaffinity(0)) \
            if hasattr(os, 'sched_getaffinity') else os.cpu_count() or 1
    return args


def check_protocol(args: argparse.Namespace) -> None:
    """Refuse settings that would make the comparison unfair."""
    for sup, semi, name in ((args.sup_iters, args.iters, ''),
                            (args.vit_sup_iters, args.vit_iters, 'vit-')):
        if sup < semi:
            raise ValueError(
                f'--{name}sup-iters {sup} < --{name}iters {semi}: the '
                'supervised arm must run at least as long as the longest '
                'semi-supervised arm on its student')
        if args.sup_val_interval > sup:
            raise ValueError(f'--sup-val-interval exceeds --{name}sup-iters'
                             ': the supervised arm would never be validated')


def arm_list(args: argparse.Namespace) -> List[str]:
    """The chosen arms and, unless ``--no-upper-bound``, the all-labels
    arm of the ResNet student when one of its arms is chosen, in
    :data:`LAUNCH_ORDER`."""
    chosen = set(args.arms)
    if args.no_upper_bound:
        chosen -= set(UPPER_BOUNDS)
    elif chosen - set(VIT_ARMS):
        chosen.add('all_labels')
    return [arm for arm in LAUNCH_ORDER if arm in chosen]


def iterations(arm: str, args: argparse.Namespace) -> int:
    """Training iterations of ``arm``: its student's schedule."""
    if arm in VIT_ARMS:
        return args.vit_sup_iters if arm in SUPERVISED_ARMS \
            else args.vit_iters
    return args.sup_iters if arm in SUPERVISED_ARMS else args.iters


def arm_options(arm: str, args: argparse.Namespace,
                data_root: str) -> Tuple[int, List[str]]:
    """Iterations and ``--cfg-options`` of one arm."""
    labeled = f'splits/{args.split}/labeled.txt'
    common = [f'val_dataloader.dataset.data_root={data_root}',
              f'test_dataloader.dataset.data_root={data_root}']
    if arm not in VIT_ARMS:
        common.append(f'optim_wrapper.optimizer.lr={args.lr}')
    iters = iterations(arm, args)
    if arm in SUPERVISED_ARMS:
        return iters, [
            *common, f'train_dataloader.dataset.data_root={data_root}',
            'train_dataloader.dataset.split_file=' +
            (ALL_TRAIN if arm in UPPER_BOUNDS else labeled),
            f'train_dataloader.batch_size={args.labeled_batch}',
            f'train_cfg.val_interval={args.sup_val_interval}',
            f'default_hooks.checkpoint.interval={iters}',
            'default_hooks.checkpoint.save_best=mIoU']
    batch = 2 * args.labeled_batch
    options = [
        *common, f'train_dataloader.batch_size={batch}',
        f'train_dataloader.sampler.batch_size={batch}',
        f'train_cfg.val_interval={iters}',
        f'default_hooks.checkpoint.interval={iters}']
    for index, split in enumerate((labeled,
                                   f'splits/{args.split}/unlabeled.txt')):
        prefix = f'train_dataloader.dataset.datasets.{index}'
        options += [f'{prefix}.data_root={data_root}',
                    f'{prefix}.split_file={split}']
    return iters, options


def train_command(arm: str, work_dir: str, seed: int,
                  args: argparse.Namespace, data_root: str) -> List[str]:
    iters, options = arm_options(arm, args, data_root)
    return [
        sys.executable, osp.join(REPO, 'tools/train.py'), CONFIGS[arm],
        '--work-dir', work_dir, '--cfg-options',
        f'train_cfg.max_iters={iters}',
        f'randomness.seed={seed}', *options
    ]


def launch(cmd: List[str], log_path: str, threads: int) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), PYTHONUNBUFFERED='1')
    log = open(log_path, 'w')
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                            env=env, cwd=REPO)


def validations(work_dir: str,
                metric: str = 'mIoU') -> List[Tuple[int, float]]:
    """``(iteration, value of metric)`` of every validation of the latest
    run in ``work_dir`` (mmengine's ``scalars.json``)."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no scalars.json under {work_dir}')
    found = []
    with open(files[-1]) as f:
        for line in f:
            record = json.loads(line)
            if metric in record:
                found.append((int(record.get('step', -1)), record[metric]))
    if not found:
        raise ValueError(f'{files[-1]} holds no {metric}')
    return found


def final_miou(work_dir: str, metric: str = 'mIoU') -> float:
    """``metric`` (an mIoU) of the last validation in ``work_dir``."""
    return validations(work_dir, metric)[-1][1]


def reported_miou(arm: str, work_dir: str) -> Tuple[float, int]:
    """The protocol's score and the iteration it was reached at: best of
    run for the supervised arms, final for the semi-supervised ones (of the
    arm's :data:`METRIC`)."""
    found = validations(work_dir, METRIC.get(arm, 'mIoU'))
    step, miou = max(found, key=lambda x: x[1]) \
        if arm in SUPERVISED_ARMS else found[-1]
    return miou, step


def ensure_data(data_root: str, split: str) -> None:
    """Generate ToyShapes unless ``data_root`` holds it with ``split``."""
    if osp.exists(osp.join(data_root, 'splits', split, 'labeled.txt')):
        return
    from mmsemi.datasets import generate_toy_shapes
    start = time.time()
    print(f'generating ToyShapes in {data_root} ...', flush=True)
    generate_toy_shapes(data_root)
    print(f'generated in {time.time() - start:.1f} s', flush=True)


def run_arms(arms: List[str], seed: int, work_dir: str, data_root: str,
             args: argparse.Namespace) -> List[dict]:
    """Train ``arms`` on ``--jobs`` slots of one CPU thread each (one slot
    of ``--jobs`` threads with ``--sequential``), a new arm starting
    whenever a slot is free; finished arms with the same command are
    reused. Returns their rows, wall-clock measured per arm."""
    slots, threads = (1, args.jobs) if args.sequential else (args.jobs, 1)
    commands = {arm: train_command(arm, osp.join(work_dir,
                                                 f'{arm}_seed{seed}'),
                                   seed, args, data_root) for arm in arms}
    rows = {arm: load_result(osp.join(work_dir, f'{arm}_seed{seed}'),
                             commands[arm]) for arm in arms}
    queue = [arm for arm in arms if rows[arm] is None]
    for arm in arms:
        if rows[arm] is not None:
            print(f'seed {seed}: {arm} reused', flush=True)
    running: Dict[str, Tuple[subprocess.Popen, float]] = {}
    while queue or running:
        while queue and len(running) < slots:
            arm = queue.pop(0)
            print(f'seed {seed}: {arm} ...', flush=True)
            log = osp.join(work_dir, f'{arm}_seed{seed}.log')
            running[arm] = (launch(commands[arm], log, threads), time.time())
        for arm, (proc, start) in list(running.items()):
            if proc.poll() is None:
                continue
            del running[arm]
            if proc.returncode != 0:
                for other, _ in running.values():
                    other.kill()
                log = osp.join(work_dir, f'{arm}_seed{seed}.log')
                raise RuntimeError(f'{arm} failed (exit {proc.returncode});'
                                   f' log {log}:\n{open(log).read()[-3000:]}')
            rows[arm] = finish_arm(arm, seed, time.time() - start,
                                   commands[arm], args, data_root)
        time.sleep(1)
    return [rows[arm] for arm in arms]


def finish_arm(arm: str, seed: int, seconds: float, command: List[str],
               args: argparse.Namespace, data_root: str) -> dict:
    """Record a finished arm's row in its work dir (``result.json``)."""
    arm_dir = command[command.index('--work-dir') + 1]
    miou, step = reported_miou(arm, arm_dir)
    row = dict(arm=arm, seed=seed, iters=arm_options(arm, args, data_root)[0],
               seconds=seconds, mIoU=miou, at_iter=step,
               final_mIoU=final_miou(arm_dir, METRIC.get(arm, 'mIoU')),
               command=command, repo=REPO)
    if arm in METRIC:  # the other network of a teacher-student validation
        row['student_mIoU'] = final_miou(arm_dir, 'student/mIoU')
    with open(osp.join(arm_dir, 'result.json'), 'w') as f:
        json.dump(row, f, indent=2)
    print(f'seed {seed}: {arm} mIoU {miou:.2f} at iteration {step} '
          f'({seconds:.0f} s)', flush=True)
    return row


def portable(command: List[str], repo: str = REPO) -> List[str]:
    """``command`` without the interpreter and with the repository path
    replaced, so a clone elsewhere or another environment reuses the
    runs of the same config and options."""
    return [part.replace(repo, '<repo>') for part in command[1:]]


def load_result(arm_dir: str, command: List[str]) -> Optional[dict]:
    """A finished arm's row, if it was run with ``command`` (up to the
    interpreter and the repository's path)."""
    path = osp.join(arm_dir, 'result.json')
    if not osp.exists(path):
        return None
    with open(path) as f:
        row = json.load(f)
    if portable(row.get('command', ['']), row.get('repo', REPO)) \
            != portable(command):
        return None
    return row


def arm_stats(rows: List[dict]) -> Dict[str, dict]:
    """Mean, min and max of the reported mIoU and the mean wall-clock per
    arm."""
    stats = {}
    for arm in dict.fromkeys(r['arm'] for r in rows):
        values = [r['mIoU'] for r in rows if r['arm'] == arm]
        stats[arm] = dict(
            mean=statistics.mean(values), min=min(values), max=max(values),
            seconds=statistics.mean(r['seconds'] for r in rows
                                    if r['arm'] == arm),
            seeds=len(values))
    return stats


def gap_closed(stats: Dict[str, dict], arm: str) -> Optional[float]:
    """Fraction of the supervised-to-all-labels gap of ``arm``'s student
    that ``arm`` closes."""
    low, high = baseline(arm), upper_bound(arm)
    if low not in stats or high not in stats:
        return None
    gap = stats[high]['mean'] - stats[low]['mean']
    if gap <= 0:
        return None
    return (stats[arm]['mean'] - stats[low]['mean']) / gap


def summarise(rows: List[dict], args: argparse.Namespace) -> str:
    stats = arm_stats(rows)
    lines = [
        f'ToyShapes, labeled split {args.split}, {args.labeled_batch} '
        'labeled images per step in every arm (+ as many unlabeled for the '
        'semi-supervised arms), every arm from its stand-in encoder '
        '(ResNet or ViT); supervised arms: best validation mIoU over the '
        'run, semi-supervised arms: final mIoU (UniMatch V2: its EMA '
        'teacher). "vs. supervised" and "gap closed" compare with the '
        "arms of the method's own student.", '',
        '| arm | seed | iterations | wall-clock (s) | mIoU | at iteration |',
        '| --- | --- | --- | --- | --- | --- |'
    ]
    for row in rows:
        lines.append(f'| {LABELS[row["arm"]]} | {row["seed"]} | '
                     f'{row["iters"]} | {row["seconds"]:.0f} | '
                     f'{row["mIoU"]:.2f} | {row["at_iter"]} |')
    lines += ['', '| arm | seeds | mean mIoU | min | max | vs. supervised '
              '| gap closed | mean wall-clock (s) |',
              '| --- | --- | --- | --- | --- | --- | --- | --- |']
    for arm, s in stats.items():
        low = baseline(arm)
        delta = (f'{s["mean"] - stats[low]["mean"]:+.2f}'
                 if low in stats and arm != low else '-')
        closed = gap_closed(stats, arm) if arm in SEMI_ARMS else None
        closed = '-' if closed is None else f'{100 * closed:.0f} %'
        lines.append(f'| {LABELS[arm]} | {s["seeds"]} | {s["mean"]:.2f} | '
                     f'{s["min"]:.2f} | {s["max"]:.2f} | {delta} | '
                     f'{closed} | {s["seconds"]:.0f} |')
    return '\n'.join(lines)


def arm_checkpoint(row: dict) -> Tuple[str, str]:
    """Config and checkpoint of the reported score of an arm's run."""
    arm_dir = row['command'][row['command'].index('--work-dir') + 1]
    config = osp.join(arm_dir, osp.basename(CONFIGS[row['arm']]))
    metric = METRIC.get(row['arm'], 'mIoU').replace('/', '_')
    best = osp.join(arm_dir, f'best_{metric}_iter_{row["at_iter"]}.pth')
    if osp.exists(best):
        return config, best
    return config, osp.join(arm_dir, f'iter_{row["at_iter"]}.pth')


def predict(rows: List[dict], images: List[str]) -> Dict[str, list]:
    """Each arm's prediction (H, W) of each image, with mmseg's
    ``init_model``/``inference_model`` on the arm's reported checkpoint."""
    import mmsemi  # noqa: F401  (registers mmsemi's modules)
    from mmseg.apis import inference_model, init_model
    preds = {}
    for row in rows:
        model = init_model(*arm_checkpoint(row), device='cpu')
        preds[row['arm']] = [
            inference_model(model, path).pred_sem_seg.data[0].numpy()
            for path in images]
    return preds


def write_picture(path: str, rows: List[dict], data_root: str,
                  num_images: int) -> None:
    """Validation images, ground truth and each arm's prediction (first
    seed), and a bar chart of the mean mIoU per arm with min-max bars."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import mmcv

    from mmsemi.datasets.toy_shapes import colorize_label
    first = [r for r in rows if r['seed'] == rows[0]['seed']]
    names = [f'val_{i:06d}' for i in range(num_images)]
    images = [osp.join(data_root, 'JPEGImages', n + '.png') for n in names]
    labels = [mmcv.imread(osp.join(data_root, 'SegmentationClass',
                                   n + '.png'), flag='unchanged')
              for n in names]
    preds = predict(first, images)
    cols = 2 + len(first)
    fig = plt.figure(figsize=(1.6 * cols, 1.6 * num_images + 3.2))
    grid = fig.add_gridspec(num_images + 2, cols)
    titles = ['image', 'ground truth', *(LABELS[r['arm']] for r in first)]
    for i, (image, label) in enumerate(zip(images, labels)):
        panels = [mmcv.imread(image, channel_order='rgb'),
                  colorize_label(label),
                  *(colorize_label(preds[r['arm']][i]) for r in first)]
        for j, panel in enumerate(panels):
            ax = fig.add_subplot(grid[i, j])
            ax.imshow(panel)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(titles[j], fontsize=7)
    stats = arm_stats(rows)
    ax = fig.add_subplot(grid[num_images:, :])
    means = [s['mean'] for s in stats.values()]
    errors = [[s['mean'] - s['min'] for s in stats.values()],
              [s['max'] - s['mean'] for s in stats.values()]]
    ax.bar([LABELS[a] for a in stats], means, yerr=errors, capsize=4,
           color='#4c72b0')
    for x, mean in enumerate(means):
        ax.text(x, mean + 0.5, f'{mean:.1f}', ha='center', fontsize=7)
    seeds = max(s['seeds'] for s in stats.values())
    ax.set_ylabel(f'mIoU (mean, min-max over {seeds} seed(s))', fontsize=7)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    args = parse_args()
    check_protocol(args)
    data_root = osp.abspath(args.data_root)
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    demo_start = time.time()
    ensure_data(data_root, args.split)

    rows = []
    for seed in args.seeds:
        rows += run_arms(arm_list(args), seed, work_dir, data_root, args)

    table = summarise(rows, args)
    total = time.time() - demo_start
    table += f'\n\nDemo wall-clock: {total / 60:.1f} min'
    picture = osp.join(work_dir, 'demo.png')
    write_picture(picture, rows, data_root, args.picture_images)
    table += f'\nPicture: {picture}'
    print('\n' + table)
    with open(osp.join(work_dir, 'summary.md'), 'w') as f:
        f.write(table + '\n')
    with open(osp.join(work_dir, 'summary.json'), 'w') as f:
        json.dump(dict(runs=rows, stats=arm_stats(rows), seconds=total,
                       args=vars(args)), f, indent=2)


if __name__ == '__main__':
    main()

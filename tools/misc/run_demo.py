"""The embedded demo: supervised-only vs. UniMatch, CorrMatch, U2PL,
RankMatch and CSS on ToyShapes, on the CPU, under one protocol.

Protocol (checked by :func:`check_protocol`):

* every arm starts from the same shipped stand-in weights (the toy model
  base loads ``mmsemi://standin_r18s_shapes12.pth`` into the backbone) and
  is validated on the same 300 validation images;
* every arm trains on the same labeled split with the same labeled batch
  size; the semi-supervised arms add as many unlabeled images per step;
* the supervised arm runs at least as many iterations as the longest
  semi-supervised arm, is validated every ``--sup-val-interval`` iterations
  and reports its **best** validation mIoU (it cannot lose by being
  under- or over-trained); every semi-supervised arm reports its
  **final** mIoU;
* a supervised arm on all 2,000 training labels, run like the supervised
  arm, gives the upper bound, so the table shows the fraction of the gap
  between supervised-only and all labels that each method closes.

Each arm is a plain ``tools/train.py`` run (what a user runs); two run side
by side with one CPU thread each, the next arm starting when one ends. A
finished arm is reused when its command is unchanged, so ``--seeds 0 1``
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

CONFIGS = dict(
    supervised=osp.join(REPO, 'configs/toy/supervised_r18s_toyshapes-1_16.py'),
    unimatch=osp.join(REPO, 'configs/toy/unimatch_r18s_toyshapes-1_16.py'),
    corrmatch=osp.join(REPO, 'configs/toy/corrmatch_r18s_toyshapes-1_16.py'),
    u2pl=osp.join(REPO, 'configs/toy/u2pl_r18s_toyshapes-1_16.py'),
    rankmatch=osp.join(REPO, 'configs/toy/rankmatch_r18s_toyshapes-1_16.py'),
    css=osp.join(REPO, 'configs/toy/css_r18s_toyshapes-1_16.py'))
CONFIGS['all_labels'] = CONFIGS['supervised']
SEMI_ARMS = ('unimatch', 'corrmatch', 'u2pl', 'rankmatch', 'css')
ARMS = ('supervised', *SEMI_ARMS)
SUPERVISED_ARMS = ('supervised', 'all_labels')
LABELS = dict(supervised='supervised-only', unimatch='UniMatch',
              corrmatch='CorrMatch', u2pl='U2PL', rankmatch='RankMatch',
              css='CSS',
              all_labels='all labels (supervised)')
ALL_TRAIN = 'ImageSets/Segmentation/train.txt'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', default='data/toyshapes')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--split', default='1_64',
                        help='labeled split of ToyShapes')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--arms', nargs='+', choices=ARMS, default=ARMS)
    parser.add_argument('--no-upper-bound', action='store_true',
                        help='skip the all-labels arm')
    parser.add_argument('--labeled-batch', type=int, default=4,
                        help='labeled images per step, every arm (the '
                        'semi-supervised arms add as many unlabeled)')
    parser.add_argument('--iters', type=int, default=3600,
                        help='iterations of every semi-supervised arm')
    parser.add_argument('--sup-iters', type=int, default=None,
                        help='iterations of the supervised arms (default '
                        'and minimum: --iters)')
    parser.add_argument('--sup-val-interval', type=int, default=300,
                        help='validation interval of the supervised arms '
                        '(best-of-run)')
    parser.add_argument('--lr', type=float, default=0.005,
                        help='backbone lr of every arm (heads 10x)')
    parser.add_argument('--picture-images', type=int, default=4)
    parser.add_argument('--sequential', action='store_true',
                        help='one arm at a time with two threads')
    args = parser.parse_args(argv)
    if args.sup_iters is None:
        args.sup_iters = args.iters
    return args


def check_protocol(args: argparse.Namespace) -> None:
    """Refuse settings that would make the comparison unfair."""
    if args.sup_iters < args.iters:
        raise ValueError(
            f'--sup-iters {args.sup_iters} < --iters {args.iters}: the '
            'supervised arm must run at least as long as the longest '
            'semi-supervised arm')
    if args.sup_val_interval > args.sup_iters:
        raise ValueError('--sup-val-interval exceeds --sup-iters: the '
                         'supervised arm would never be validated')


def arm_list(args: argparse.Namespace) -> List[str]:
    """The arms in launch order: the semi-supervised ones (longest) first,
    so the supervised ones fill the slots at the end."""
    arms = [a for a in args.arms if a in SEMI_ARMS]
    arms += [a for a in args.arms if a not in SEMI_ARMS]
    if not args.no_upper_bound:
        arms.append('all_labels')
    return arms


def arm_options(arm: str, args: argparse.Namespace,
                data_root: str) -> Tuple[int, List[str]]:
    """Iterations and ``--cfg-options`` of one arm."""
    labeled = f'splits/{args.split}/labeled.txt'
    common = [f'val_dataloader.dataset.data_root={data_root}',
              f'test_dataloader.dataset.data_root={data_root}',
              f'optim_wrapper.optimizer.lr={args.lr}']
    if arm in SUPERVISED_ARMS:
        return args.sup_iters, [
            *common, f'train_dataloader.dataset.data_root={data_root}',
            'train_dataloader.dataset.split_file=' +
            (ALL_TRAIN if arm == 'all_labels' else labeled),
            f'train_dataloader.batch_size={args.labeled_batch}',
            f'train_cfg.val_interval={args.sup_val_interval}',
            f'default_hooks.checkpoint.interval={args.sup_iters}',
            'default_hooks.checkpoint.save_best=mIoU']
    batch = 2 * args.labeled_batch
    options = [
        *common, f'train_dataloader.batch_size={batch}',
        f'train_dataloader.sampler.batch_size={batch}',
        f'train_cfg.val_interval={args.iters}',
        f'default_hooks.checkpoint.interval={args.iters}']
    for index, split in enumerate((labeled,
                                   f'splits/{args.split}/unlabeled.txt')):
        prefix = f'train_dataloader.dataset.datasets.{index}'
        options += [f'{prefix}.data_root={data_root}',
                    f'{prefix}.split_file={split}']
    return args.iters, options


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


def validations(work_dir: str) -> List[Tuple[int, float]]:
    """``(iteration, mIoU)`` of every validation of the latest run in
    ``work_dir`` (mmengine's ``scalars.json``)."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no scalars.json under {work_dir}')
    found = []
    with open(files[-1]) as f:
        for line in f:
            record = json.loads(line)
            if 'mIoU' in record:
                found.append((int(record.get('step', -1)), record['mIoU']))
    if not found:
        raise ValueError(f'{files[-1]} holds no mIoU')
    return found


def final_miou(work_dir: str) -> float:
    """mIoU of the last validation in ``work_dir``."""
    return validations(work_dir)[-1][1]


def reported_miou(arm: str, work_dir: str) -> Tuple[float, int]:
    """The protocol's score and the iteration it was reached at: best of
    run for the supervised arms, final for the semi-supervised ones."""
    found = validations(work_dir)
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
    """Train ``arms`` on two slots of one CPU thread each (one slot of two
    threads with ``--sequential``), a new arm starting whenever a slot is
    free; finished arms with the same command are reused. Returns their
    rows, wall-clock measured per arm."""
    slots, threads = (1, 2) if args.sequential else (2, 1)
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
               final_mIoU=final_miou(arm_dir), command=command)
    with open(osp.join(arm_dir, 'result.json'), 'w') as f:
        json.dump(row, f, indent=2)
    print(f'seed {seed}: {arm} mIoU {miou:.2f} at iteration {step} '
          f'({seconds:.0f} s)', flush=True)
    return row


def load_result(arm_dir: str, command: List[str]) -> Optional[dict]:
    """A finished arm's row, if it was run with ``command``."""
    path = osp.join(arm_dir, 'result.json')
    if not osp.exists(path):
        return None
    with open(path) as f:
        row = json.load(f)
    return row if row.get('command') == command else None


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
    """Fraction of the supervised-to-all-labels gap that ``arm`` closes."""
    if 'supervised' not in stats or 'all_labels' not in stats:
        return None
    gap = stats['all_labels']['mean'] - stats['supervised']['mean']
    if gap <= 0:
        return None
    return (stats[arm]['mean'] - stats['supervised']['mean']) / gap


def summarise(rows: List[dict], args: argparse.Namespace) -> str:
    stats = arm_stats(rows)
    lines = [
        f'ToyShapes, labeled split {args.split}, {args.labeled_batch} '
        'labeled images per step in every arm (+ as many unlabeled for the '
        'semi-supervised arms), every arm from the stand-in backbone '
        'weights; supervised arms: best validation mIoU over the run, '
        'semi-supervised arms: final mIoU.', '',
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
        delta = (f'{s["mean"] - stats["supervised"]["mean"]:+.2f}'
                 if 'supervised' in stats and arm != 'supervised' else '-')
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
    best = osp.join(arm_dir, f'best_mIoU_iter_{row["at_iter"]}.pth')
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

"""The demo driver's protocol: same initial weights, same labeled split and
labeled batch for every arm, best-of-run for the supervised arms and final
mIoU for the semi-supervised ones, the gap to all labels, and reuse."""
import importlib.util
import json
import os.path as osp
import sys

import pytest
from mmengine.config import Config

from ._helpers import REPO_ROOT, run_checked, subprocess_env

spec = importlib.util.spec_from_file_location(
    'run_demo', osp.join(REPO_ROOT, 'tools/misc/run_demo.py'))
run_demo = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_demo)


def _scalars(work_dir, stamp, records):
    folder = work_dir / stamp / 'vis_data'
    folder.mkdir(parents=True)
    with open(folder / 'scalars.json', 'w') as f:
        for record in records:
            f.write(json.dumps(record) + '\n')


def test_supervised_reports_best_of_run_and_semi_the_final(tmp_path):
    _scalars(tmp_path, '20260101_000000', [{'mIoU': 90.0, 'step': 5}])
    _scalars(tmp_path, '20260101_000100', [
        {'loss': 1.0, 'step': 1}, {'mIoU': 40.5, 'step': 5},
        {'loss': 0.5, 'step': 6}, {'mIoU': 31.25, 'step': 10}])
    # the latest run only
    assert run_demo.reported_miou('supervised', str(tmp_path)) == (40.5, 5)
    assert run_demo.reported_miou('all_labels', str(tmp_path)) == (40.5, 5)
    assert run_demo.reported_miou('unimatch', str(tmp_path)) == (31.25, 10)
    assert run_demo.final_miou(str(tmp_path)) == 31.25


def test_missing_validation_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match='scalars.json'):
        run_demo.final_miou(str(tmp_path))
    _scalars(tmp_path, 'x', [{'loss': 1.0}])
    with pytest.raises(ValueError, match='holds no mIoU'):
        run_demo.final_miou(str(tmp_path))


def test_protocol_refuses_a_shorter_supervised_arm():
    with pytest.raises(ValueError, match='at least as long'):
        run_demo.check_protocol(run_demo.parse_args(
            ['--iters', '100', '--sup-iters', '50']))
    with pytest.raises(ValueError, match='never be validated'):
        run_demo.check_protocol(run_demo.parse_args(
            ['--iters', '10', '--vit-iters', '10',
             '--sup-val-interval', '20']))
    args = run_demo.parse_args(['--iters', '100', '--vit-iters', '60',
                                '--sup-val-interval', '50'])
    run_demo.check_protocol(args)
    assert (args.sup_iters, args.vit_sup_iters) == (100, 60)


def _options(arm, args):
    return dict(o.split('=', 1)
                for o in run_demo.arm_options(arm, args, '/d')[1])


def test_unimatch_v2_reports_its_teacher(tmp_path):
    """UniMatch V2 validates student and EMA teacher; the row is the
    teacher's final mIoU (the paper's model), not the better of the two."""
    _scalars(tmp_path, '20260101_000000', [
        {'teacher/mIoU': 50.0, 'student/mIoU': 60.0, 'step': 5},
        {'teacher/mIoU': 45.0, 'student/mIoU': 48.0, 'step': 10}])
    assert run_demo.reported_miou('unimatch_v2', str(tmp_path)) == \
        (45.0, 10)
    with pytest.raises(ValueError, match='holds no mIoU'):
        run_demo.reported_miou('unimatch_vit', str(tmp_path))


def test_arm_list_is_heaviest_first_with_the_resnet_upper_bound():
    args = run_demo.parse_args(['--arms', 'supervised', 'unimatch_v2'])
    assert run_demo.arm_list(args) == [
        'all_labels', 'supervised', 'unimatch_v2']
    args = run_demo.parse_args(['--arms', 'unimatch_v2', 'all_labels_vit'])
    assert run_demo.arm_list(args) == ['unimatch_v2', 'all_labels_vit']
    args = run_demo.parse_args(['--arms', 'u2pl', 'all_labels_vit',
                                '--no-upper-bound'])
    assert run_demo.arm_list(args) == ['u2pl']
    default = run_demo.arm_list(run_demo.parse_args([]))
    assert set(default) == set(run_demo.ARMS) - {'all_labels_vit'}
    assert len(default) == len(set(default))
    assert default[0] == 'corrmatch'
    assert default[-1] == 'supervised_vit'


def test_each_student_has_its_own_schedule():
    args = run_demo.parse_args(['--iters', '30', '--vit-iters', '20',
                                '--vit-sup-iters', '25'])
    assert {arm: run_demo.iterations(arm, args) for arm in run_demo.ARMS} \
        == dict(supervised=30, unimatch=30, corrmatch=30, u2pl=30,
                rankmatch=30, css=30, all_labels=30, supervised_vit=25,
                unimatch_vit=20, unimatch_v2=20, all_labels_vit=25)
    options = _options('unimatch_v2', args)
    assert options['train_cfg.val_interval'] == '20'
    with pytest.raises(ValueError, match='--vit-sup-iters 10 < --vit-iters'):
        run_demo.check_protocol(run_demo.parse_args(
            ['--vit-iters', '20', '--vit-sup-iters', '10']))


def test_jobs_default_to_the_available_cores():
    args = run_demo.parse_args([])
    assert args.jobs == len(run_demo.os.sched_getaffinity(0))
    assert run_demo.parse_args(['--jobs', '5']).jobs == 5


def test_every_arm_has_the_same_labels_batch_and_lr():
    args = run_demo.parse_args(['--split', '1_32', '--labeled-batch', '3',
                                '--iters', '40', '--sup-iters', '60',
                                '--vit-iters', '40', '--vit-sup-iters', '60'])
    sup, semi = _options('supervised', args), _options('corrmatch', args)
    upper = _options('all_labels', args)
    assert sup['train_dataloader.dataset.split_file'] == \
        semi['train_dataloader.dataset.datasets.0.split_file'] == \
        'splits/1_32/labeled.txt'
    assert semi['train_dataloader.dataset.datasets.1.split_file'] == \
        'splits/1_32/unlabeled.txt'
    assert upper['train_dataloader.dataset.split_file'] == \
        run_demo.ALL_TRAIN
    # labeled batch 3 everywhere: the semi arms add 3 unlabeled images
    assert sup['train_dataloader.batch_size'] == '3'
    assert semi['train_dataloader.sampler.batch_size'] == '6'
    for options in (sup, semi, upper):
        assert options['optim_wrapper.optimizer.lr'] == '0.005'
        assert options['val_dataloader.dataset.data_root'] == '/d'
    # the ViT arms: the same data options, their config's optimiser
    def without_lr(options):
        return {k: v for k, v in options.items()
                if k != 'optim_wrapper.optimizer.lr'}

    assert _options('supervised_vit', args) == without_lr(sup)
    assert _options('all_labels_vit', args) == without_lr(upper)
    for arm in ('unimatch_vit', 'unimatch_v2'):
        assert _options(arm, args) == without_lr(semi)
    vit_optim = [Config.fromfile(run_demo.CONFIGS[arm]).optim_wrapper
                 for arm in run_demo.VIT_ARMS]
    assert all(o == vit_optim[0] for o in vit_optim)
    assert vit_optim[0].optimizer.type == 'AdamW'
    assert vit_optim[0].paramwise_cfg.custom_keys.backbone.lr_mult == 1 / 40
    assert run_demo.arm_options('supervised', args, '/d')[0] == 60
    assert run_demo.arm_options('u2pl', args, '/d')[0] == 40
    # U2PL's drop-rate schedule, CSS's ramp-down epoch and the poly decay
    # follow train_cfg.max_iters and the demo's loaders at run time
    for arm in ('u2pl', 'css'):
        assert not any('semi_train_cfg' in key or 'param_scheduler' in key
                       for key in _options(arm, args)), arm
    assert sup['default_hooks.checkpoint.save_best'] == 'mIoU'


def _split(root, name, count):
    folder = root / 'splits' / name
    folder.mkdir(parents=True)
    (folder / 'labeled.txt').write_text(
        ''.join(f'img_{i}\n' for i in range(count)))


def test_every_arm_starts_from_the_stand_in_weights(tmp_path):
    """No arm overrides the encoder init of its toy model base: the ResNet
    arms start from the ResNet stand-in, the ViT arms from the ViT one."""
    _split(tmp_path, '1_64', 32)
    for arm, path in run_demo.CONFIGS.items():
        cfg = Config.fromfile(path)
        segmentor = cfg.model.get('segmentor', cfg.model)
        weights = 'standin_vit-t-p8_shapes12.pth' \
            if arm in run_demo.VIT_ARMS else 'standin_r18s_shapes12.pth'
        assert segmentor.backbone.init_cfg.checkpoint == \
            'mmsemi://' + weights, arm
        assert 'load_from' not in ' '.join(run_demo.arm_options(
            arm, run_demo.parse_args([]), str(tmp_path))[1])


def test_css_and_u2pl_schedules_are_left_to_the_run():
    """The toy configs do not restate the schedule lengths the loop gives
    the model (CSS's labeled epoch, U2PL's length and unlabeled epoch), so
    the demo's split and batch set them."""
    for arm in ('css', 'u2pl'):
        cfg = Config.fromfile(run_demo.CONFIGS[arm])
        assert cfg.model.semi_train_cfg.get('max_iters') is None, arm
        assert 'end' not in cfg.param_scheduler[0], arm
    assert Config.fromfile(run_demo.CONFIGS['css']).model.semi_train_cfg.get(
        'iters_per_epoch') is None


def test_summary_reports_mean_spread_gain_and_gap_closed():
    rows = [dict(arm=arm, seed=seed, iters=10, seconds=60, mIoU=miou,
                 at_iter=10)
            for arm, seed, miou in [
                ('supervised', 0, 30.0), ('supervised', 1, 32.0),
                ('unimatch', 0, 36.0), ('unimatch', 1, 34.0),
                ('all_labels', 0, 50.0), ('all_labels', 1, 52.0)]]
    args = run_demo.parse_args(['--split', '1_16'])
    text = run_demo.summarise(rows, args)
    assert '| supervised-only | 2 | 31.00 | 30.00 | 32.00 | - | - | 60 |' \
        in text
    # (35 - 31) / (51 - 31) = 20 %
    assert '| UniMatch | 2 | 35.00 | 34.00 | 36.00 | +4.00 | 20 % | 60 |' \
        in text


def test_each_method_is_compared_with_its_own_student():
    rows = [dict(arm=arm, seed=0, iters=10, seconds=60, mIoU=miou,
                 at_iter=10)
            for arm, miou in [('supervised', 30.0), ('unimatch', 36.0),
                              ('all_labels', 50.0), ('supervised_vit', 40.0),
                              ('unimatch_v2', 44.0),
                              ('all_labels_vit', 60.0)]]
    text = run_demo.summarise(rows, run_demo.parse_args([]))
    # (36 - 30) / (50 - 30) = 30 %; (44 - 40) / (60 - 40) = 20 %
    assert '| UniMatch | 1 | 36.00 | 36.00 | 36.00 | +6.00 | 30 % | 60 |' \
        in text
    assert ('| UniMatch V2 (ViT) | 1 | 44.00 | 44.00 | 44.00 | +4.00 | '
            '20 % | 60 |') in text
    assert '| supervised-only (ViT) | 1 | 40.00 | 40.00 | 40.00 | - |' in text


def test_finished_arm_is_reused_only_with_the_same_command(tmp_path):
    command = ['/venv/bin/python', run_demo.REPO + '/tools/train.py', 'b']
    row = dict(arm='unimatch', command=command, mIoU=1.0)
    (tmp_path / 'result.json').write_text(json.dumps(row))
    assert run_demo.load_result(str(tmp_path), command) == row
    assert run_demo.load_result(str(tmp_path), command[:2] + ['c']) is None
    # the same run from another clone and interpreter is reused
    moved = dict(row, repo='/old/clone',
                 command=['python', '/old/clone/tools/train.py', 'b'])
    (tmp_path / 'result.json').write_text(json.dumps(moved))
    assert run_demo.load_result(str(tmp_path), command) == moved


def test_tiny_demo_run(toy_data_root, tmp_path):
    """Five arms of both students for a few iterations through the real
    driver (``tools/train.py`` on each config): the supervised score is the
    best of its validations, the semi-supervised one its final validation
    (UniMatch V2's: its teacher's), all from the same split and their
    student's weights, and the picture (mmseg's ``init_model`` on every
    arm's checkpoint) is written."""
    work_dir = tmp_path / 'demo'
    data_root = osp.join(toy_data_root, 'data', 'toyshapes')
    run_checked([
        sys.executable, osp.join(REPO_ROOT, 'tools/misc/run_demo.py'),
        '--data-root', data_root, '--work-dir', str(work_dir),
        '--split', '1_2', '--arms', 'supervised', 'unimatch',
        'supervised_vit', 'unimatch_vit', 'unimatch_v2',
        '--no-upper-bound', '--iters', '2', '--sup-iters', '4',
        '--vit-iters', '2',
        '--sup-val-interval', '2', '--picture-images', '2'
    ], cwd=toy_data_root, env=subprocess_env(), timeout=900)
    summary = json.loads((work_dir / 'summary.json').read_text())
    runs = {r['arm']: r for r in summary['runs']}
    sup_vals = run_demo.validations(str(work_dir / 'supervised_seed0'))
    assert [s for s, _ in sup_vals] == [2, 4]
    assert runs['supervised']['mIoU'] == max(m for _, m in sup_vals)
    assert runs['unimatch']['mIoU'] == \
        run_demo.final_miou(str(work_dir / 'unimatch_seed0'))
    assert runs['unimatch']['iters'] == 2
    assert runs['supervised']['iters'] == 4
    v2_dir = str(work_dir / 'unimatch_v2_seed0')
    assert runs['unimatch_v2']['mIoU'] == \
        run_demo.final_miou(v2_dir, 'teacher/mIoU')
    assert runs['unimatch_v2']['student_mIoU'] == \
        run_demo.final_miou(v2_dir, 'student/mIoU')
    assert runs['supervised_vit']['iters'] == 2
    for arm in ('supervised', 'unimatch', 'supervised_vit', 'unimatch_vit',
                'unimatch_v2'):
        cfg = Config.fromfile(run_demo.arm_checkpoint(runs[arm])[0])
        seg = cfg.model.get('segmentor', cfg.model)
        weights = 'vit-t-p8' if arm in run_demo.VIT_ARMS else 'r18s'
        assert seg.backbone.init_cfg.checkpoint == \
            f'mmsemi://standin_{weights}_shapes12.pth', arm
        labeled = cfg.train_dataloader.dataset
        labeled = labeled.datasets[0] if 'datasets' in labeled else labeled
        assert labeled.split_file == 'splits/1_2/labeled.txt'
    assert (work_dir / 'demo.png').stat().st_size > 10000
    assert 'UniMatch V2 (ViT)' in (work_dir / 'summary.md').read_text()

# Copyright (c) mmsemi contributors. All rights reserved.
"""tools/misc/extract_teacher.py turns an mmsemi checkpoint into a plain
mmseg checkpoint and config that stock mmseg loads without mmsemi."""
import importlib.util
import os.path as osp
import subprocess
import sys
import textwrap
from collections import OrderedDict

import numpy as np
import pytest
import torch
from mmengine.config import Config
from torch import nn

from ._helpers import run_checked, subprocess_env

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO_ROOT, 'tools', 'misc', 'extract_teacher.py')


def _load_tool():
    spec = importlib.util.spec_from_file_location('extract_teacher', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


extract_teacher = _load_tool()


class TinySegmentor(nn.Module):
    """Stands in for an mmseg segmentor: a conv and a BN (with buffers)."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Conv2d(3, 2, 1)
        self.decode_head = nn.BatchNorm2d(2)


class TinySemi(nn.Module):
    """Stands in for an mmsemi wrapper with a student and an EMA teacher."""

    def __init__(self):
        super().__init__()
        self.student = TinySegmentor()
        self.teacher = TinySegmentor()
        with torch.no_grad():
            for p in self.student.parameters():
                p.fill_(1.0)
            for p in self.teacher.parameters():
                p.fill_(2.0)


@pytest.fixture
def fake_checkpoint():
    return dict(
        meta=dict(
            iter=8,
            cfg='model = dict(type="UniMatch")',
            dataset_meta=dict(classes=('a', 'b'), palette=[[0, 0, 0],
                                                           [9, 9, 9]])),
        state_dict=TinySemi().state_dict(),
        optimizer=dict(state={}, param_groups=[]),
        message_hub=dict(log_scalars={}))


def test_extract_teacher_weights_load_into_plain_segmentor(fake_checkpoint):
    converted = extract_teacher.convert_checkpoint(
        fake_checkpoint, 'teacher', source='x.pth')

    assert set(converted) == {'meta', 'state_dict'}
    assert list(converted['state_dict']) == [
        'backbone.weight', 'backbone.bias', 'decode_head.weight',
        'decode_head.bias', 'decode_head.running_mean',
        'decode_head.running_var', 'decode_head.num_batches_tracked'
    ]
    plain = TinySegmentor()
    plain.load_state_dict(converted['state_dict'], strict=True)
    assert torch.equal(plain.backbone.weight, torch.full((2, 3, 1, 1), 2.0))
    assert converted['meta']['dataset_meta']['classes'] == ('a', 'b')
    assert converted['meta']['iter'] == 8
    assert 'cfg' not in converted['meta']
    assert converted['meta']['mmsemi_extracted'] == dict(
        source='x.pth', which='teacher')


def test_extract_student_and_ddp_prefix(fake_checkpoint):
    ddp_state = OrderedDict(
        (f'module.{k}', v) for k, v in fake_checkpoint['state_dict'].items())
    student = extract_teacher.extract_branch_state_dict(ddp_state, 'student')
    assert torch.equal(student['backbone.bias'], torch.ones(2))
    assert len(student) == 7


def test_bare_state_dict_input(fake_checkpoint):
    converted = extract_teacher.convert_checkpoint(
        fake_checkpoint['state_dict'], 'student')
    assert converted['meta'] == dict(
        mmsemi_extracted=dict(source='', which='student'))
    assert torch.equal(converted['state_dict']['decode_head.weight'],
                       torch.ones(2))


def test_auto_prefers_teacher_then_student(fake_checkpoint):
    with_teacher = extract_teacher.convert_checkpoint(fake_checkpoint, 'auto')
    assert with_teacher['meta']['mmsemi_extracted']['which'] == 'teacher'
    assert torch.equal(with_teacher['state_dict']['backbone.bias'],
                       torch.full((2, ), 2.0))
    student_only = OrderedDict(
        (k, v) for k, v in fake_checkpoint['state_dict'].items()
        if k.startswith('student.'))
    converted = extract_teacher.convert_checkpoint(student_only, 'auto')
    assert converted['meta']['mmsemi_extracted']['which'] == 'student'
    assert torch.equal(converted['state_dict']['backbone.bias'],
                       torch.ones(2))


def test_missing_branch_names_found_prefixes():
    state = OrderedDict(
        [('backbone.w', torch.zeros(1)), ('student.w', torch.zeros(1))])
    with pytest.raises(ValueError, match=r"'teacher\.'.*\['backbone', "
                       r"'student'\]"):
        extract_teacher.extract_branch_state_dict(state, 'teacher')
    with pytest.raises(ValueError, match='teacher.*student'):
        extract_teacher.extract_branch_state_dict(state, 'ema')


def test_cli_output_loads_with_weights_only(tmp_path, fake_checkpoint):
    src, dst = tmp_path / 'semi.pth', tmp_path / 'plain.pth'
    torch.save(fake_checkpoint, src)
    subprocess.run(
        [sys.executable, SCRIPT,
         str(src), str(dst), '--which', 'student', '--keep-all-keys'],
        check=True,
        capture_output=True)
    # Stock mmseg loads with torch's weights_only=True default: the output
    # must hold only plain types and tensors.
    plain = torch.load(dst, weights_only=True)
    assert torch.equal(plain['state_dict']['backbone.weight'],
                       torch.ones(2, 3, 1, 1))
    assert plain['meta']['mmsemi_extracted']['which'] == 'student'


def test_cli_without_usable_config_fails_clearly(tmp_path,
                                                  fake_checkpoint):
    """Without --keep-all-keys a config is needed: the fake one wraps no
    segmentor, and a bare state dict has none."""
    src = tmp_path / 'semi.pth'
    torch.save(fake_checkpoint, src)
    proc = subprocess.run(
        [sys.executable, SCRIPT, str(src), str(tmp_path / 'plain.pth')],
        capture_output=True, text=True, env=subprocess_env())
    assert proc.returncode != 0
    assert "has no 'segmentor' key" in proc.stderr
    assert not (tmp_path / 'plain.pth').exists()

    torch.save(fake_checkpoint['state_dict'], src)
    proc = subprocess.run(
        [sys.executable, SCRIPT, str(src), str(tmp_path / 'plain.pth')],
        capture_output=True, text=True, env=subprocess_env())
    assert proc.returncode != 0
    assert f'{src} stores no training config (meta.cfg)' in proc.stderr


# ----------------------------------------------------------------------
# Real U2PL checkpoints: U2PL attaches a training-only rep_head to both
# segmentors.
U2PL_TOY = osp.join(REPO_ROOT, 'configs', 'toy', 'u2pl_r18s_toyshapes-1_16.py')
UNIMATCH_TOY = osp.join(REPO_ROOT, 'configs', 'toy',
                        'unimatch_r18s_toyshapes-1_16.py')
# mmseg's own DeepLabV3+ head in place of mmsemi's SemiDeepLabV3PlusHead.
STOCK_HEAD_OPTIONS = {
    'model.segmentor.decode_head.type': 'DepthwiseSeparableASPPHead',
    'model.segmentor.decode_head.in_channels': 128,
    'model.segmentor.decode_head.in_index': 3,
    'model.segmentor.decode_head.c1_in_channels': 16,
}
CLASSES = ('background', 'circle', 'square', 'triangle', 'star', 'ring',
           'cross')


def _u2pl_checkpoint(path: str, cfg_options: dict) -> Config:
    """Save a U2PL toy checkpoint as the Runner would (config text in
    ``meta.cfg``) whose teacher differs from its student."""
    import mmsemi  # noqa: F401
    from mmseg.apis import init_model
    cfg = Config.fromfile(U2PL_TOY)
    cfg.merge_from_dict(cfg_options)
    torch.manual_seed(0)
    model = init_model(cfg, None, device='cpu')
    with torch.no_grad():
        for param in model.teacher.parameters():
            param.add_(0.05 * torch.randn_like(param))
    torch.save(
        dict(meta=dict(cfg=cfg.pretty_text, iter=2,
                       dataset_meta=dict(classes=CLASSES,
                                         palette=[[0, 0, 0]] * 7)),
             state_dict=model.state_dict(),
             optimizer=dict(state={}, param_groups=[])), path)
    return cfg


def _branch_logits(cfg: Config, checkpoint: str, image: np.ndarray) -> dict:
    """inference_model logits of the mmsemi model with each predict_on."""
    import mmsemi  # noqa: F401
    from mmseg.apis import inference_model, init_model
    logits = {}
    for branch in ('teacher', 'student'):
        model = init_model(
            cfg.copy(), checkpoint, device='cpu',
            cfg_options={'model.semi_test_cfg.predict_on': branch})
        logits[branch] = inference_model(model, image).seg_logits.data
    assert not torch.allclose(logits['teacher'], logits['student'],
                              atol=1e-3)
    return logits


def _plain_keys(config_file: str) -> set:
    from mmseg.registry import MODELS
    return set(MODELS.build(Config.fromfile(config_file).model).state_dict())


# Runs init_model + inference_model on the written pair with mmsemi
# unimportable (also an installed copy: sys.modules['mmsemi'] = None).
WITHOUT_MMSEMI = textwrap.dedent("""
    import sys
    sys.modules['mmsemi'] = None
    try:
        import mmsemi  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit('mmsemi is importable')
    import numpy as np
    import torch
    from mmseg.apis import inference_model, init_model
    cfg, ckpt, image, out = sys.argv[1:]
    model = init_model(cfg, ckpt, device='cpu')
    assert type(model).__module__.startswith('mmseg.'), type(model)
    result = inference_model(model, np.load(image))
    torch.save(result.seg_logits.data, out)
    print('modules:', sorted(m for m in sys.modules if 'mmsemi' in m))
""")


def test_u2pl_extraction_loads_in_stock_mmseg_without_mmsemi(tmp_path):
    src, dst = str(tmp_path / 'u2pl.pth'), str(tmp_path / 'plain.pth')
    cfg = _u2pl_checkpoint(src, STOCK_HEAD_OPTIONS)
    out = run_checked([sys.executable, SCRIPT, src, dst], cwd=str(tmp_path),
                      env=subprocess_env(with_repo=False))

    config_file = str(tmp_path / 'plain.py')
    plain_cfg = Config.fromfile(config_file)
    assert plain_cfg.model.type == 'EncoderDecoder'
    assert plain_cfg.model.decode_head.type == 'DepthwiseSeparableASPPHead'
    assert plain_cfg.default_scope == 'mmseg'
    assert 'custom_imports' not in plain_cfg
    assert plain_cfg.test_pipeline == cfg.test_pipeline
    assert plain_cfg.test_evaluator == cfg.test_evaluator
    assert plain_cfg.test_dataloader.dataset.split_file == \
        cfg.test_dataloader.dataset.split_file
    for key in ('train_dataloader', 'optim_wrapper', 'custom_hooks'):
        assert key not in plain_cfg

    checkpoint = torch.load(dst, weights_only=True)
    state_dict = checkpoint['state_dict']
    assert set(state_dict) == _plain_keys(config_file)
    assert not any(k.startswith('rep_head.') for k in state_dict)
    dropped = checkpoint['meta']['mmsemi_extracted']['dropped_keys']
    assert dropped and all(k.startswith('rep_head.') for k in dropped)
    assert 'rep_head.proj.weight' in out
    assert checkpoint['meta']['mmsemi_extracted']['config'] == 'plain.py'
    assert checkpoint['meta']['dataset_meta']['classes'] == CLASSES
    # The toy dataset type is mmsemi's; the model is stock.
    assert 'test_dataloader.dataset: ToyShapesDataset' in out
    assert 'model.' not in out.split('WARNING')[-1]

    image = np.random.RandomState(3).randint(0, 256, (40, 48, 3),
                                             dtype=np.uint8)
    np.save(tmp_path / 'img.npy', image)
    logits_file = str(tmp_path / 'logits.pt')
    isolated = run_checked(
        [sys.executable, '-c', WITHOUT_MMSEMI, config_file, dst,
         str(tmp_path / 'img.npy'), logits_file],
        cwd=str(tmp_path), env=subprocess_env(with_repo=False))
    assert "modules: ['mmsemi']" in isolated  # only the blocking None entry
    stock = torch.load(logits_file, weights_only=True)
    expected = _branch_logits(cfg, src, image)
    torch.testing.assert_close(stock, expected['teacher'])
    assert not torch.allclose(stock, expected['student'], atol=1e-3)


def test_mmsemi_head_is_flagged_and_config_option_used(tmp_path, capsys,
                                                      monkeypatch):
    """A bare state dict with --config: the student of the shipped toy
    config, whose head is mmsemi's SemiDeepLabV3PlusHead."""
    import mmsemi  # noqa: F401
    from mmseg.apis import inference_model, init_model
    src, dst = str(tmp_path / 'u2pl.pth'), str(tmp_path / 'student.pth')
    bare = str(tmp_path / 'bare.pth')
    cfg = _u2pl_checkpoint(src, {})
    torch.save(torch.load(src, weights_only=False)['state_dict'], bare)
    monkeypatch.setattr(sys, 'argv', [
        SCRIPT, bare, dst, '--which', 'student', '--config', U2PL_TOY
    ])
    extract_teacher.main()
    captured = capsys.readouterr()
    assert 'model.decode_head: SemiDeepLabV3PlusHead' in captured.err
    config_file = str(tmp_path / 'student.py')
    with open(config_file) as f:
        header = f.read().split('\n\n', 1)[0]
    assert '#   model.decode_head: SemiDeepLabV3PlusHead' in header
    assert 'custom_imports' not in Config.fromfile(config_file)

    state_dict = torch.load(dst, weights_only=True)['state_dict']
    assert set(state_dict) == _plain_keys(config_file)
    image = np.random.RandomState(4).randint(0, 256, (40, 48, 3),
                                             dtype=np.uint8)
    model = init_model(config_file, dst, device='cpu')
    logits = inference_model(model, image).seg_logits.data
    expected = _branch_logits(cfg, src, image)
    torch.testing.assert_close(logits, expected['student'])


def test_config_of_another_model_is_rejected(tmp_path, monkeypatch):
    src, dst = str(tmp_path / 'u2pl.pth'), str(tmp_path / 'plain.pth')
    _u2pl_checkpoint(src, STOCK_HEAD_OPTIONS)
    monkeypatch.setattr(sys, 'argv',
                        [SCRIPT, src, dst, '--config', UNIMATCH_TOY])
    with pytest.raises(ValueError, match=r'does not match the config.*'
                       r'missing keys \[.*decode_head\.'):
        extract_teacher.main()
    assert not osp.exists(dst)

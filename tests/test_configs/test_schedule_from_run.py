"""One knob per derived value: changing only ``train_cfg.max_iters`` (as
``--cfg-options train_cfg.max_iters=N`` does) moves every schedule that
depends on the length of training, and the epoch-based ones follow the
run's loaders.

What the Runner builds is built here the Runner's way: the train loop
(``SemiIterBasedTrainLoop``, which hands the model the run's schedule),
then the hooks' ``before_train`` and mmengine's own parameter-scheduler
builder. The data are stand-in labeled / unlabeled sets of fixed sizes; the
segmentor of the shipped config is swapped for the slim toy one (schedules
do not involve it).

Dependent schedules (README, "Changing the length of training"):

- every parameter scheduler without ``end`` (the poly decay) ends at
  ``train_cfg.max_iters``;
- U2PL: the drop-rate schedule's length ``semi_train_cfg.max_iters``, its
  epoch ``iters_per_epoch`` (the unlabeled loader's), the supervised
  warm-up ``sup_only_epochs`` x that epoch, and ``EMATeacherHook``'s
  ``begin_iter`` (the end of the warm-up);
- CSS: the contrast ramp-down's epoch ``iters_per_epoch`` (the labeled
  loader's);
- validation and the last checkpoint: mmengine's loop validates at the
  last iteration and CheckpointHook saves the last one whatever the
  intervals.
"""
import os.path as osp
import sys

import pytest
from mmengine.config import Config

from mmseg.registry import HOOKS, MODELS

HERE = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, HERE)
from _run_schedule import build_loop, build_param_schedulers  # noqa: E402

ROOT = osp.dirname(osp.dirname(HERE))
U2PL = 'configs/u2pl/u2pl_r101-d8_4xb4+4-80e_voc12-classic1464-513x513.py'
CSS = 'configs/css/css-mix_r101-d8_4xb8+8-80k_voc12-classic92-513x513.py'
TOY_MODEL = 'configs/_base_/models/deeplabv3plus_r18s-d8_toy.py'
#: Stand-in set sizes: with U2PL's 4 + 4 per process the labeled epoch is
#: 10 iterations and the unlabeled one 30; with CSS's 8 + 8, 5 and 15.
NUM_LABELED, NUM_UNLABELED = 40, 120


def _config(path, **options):
    """The shipped config with ``--cfg-options`` ``options``, the toy
    segmentor and a small crop."""
    cfg = Config.fromfile(osp.join(ROOT, path))
    cfg.merge_from_dict(options)
    toy = Config.fromfile(osp.join(ROOT, TOY_MODEL)).model
    toy.decode_head.num_classes = cfg.model.segmentor.decode_head.num_classes
    toy.backbone.init_cfg = None
    toy.data_preprocessor.size = (64, 64)
    cfg.model.segmentor = toy
    cfg.model.data_preprocessor.data_preprocessor = toy.data_preprocessor
    return cfg


def _run(cfg):
    """(model, loop, hooks, schedulers) as the Runner builds them."""
    model = MODELS.build(cfg.model)
    loop, runner = build_loop(cfg, model, NUM_LABELED, NUM_UNLABELED)
    hooks = [HOOKS.build(dict(h)) for h in cfg.custom_hooks]
    for hook in hooks:
        hook.before_train(runner)
    schedulers = build_param_schedulers(cfg, loop.max_iters)
    return model, loop, hooks, schedulers


@pytest.mark.parametrize('max_iters', [1000, 2500])
def test_u2pl_schedules_follow_max_iters(max_iters):
    cfg = _config(U2PL, **{'train_cfg.max_iters': max_iters})
    model, loop, hooks, schedulers = _run(cfg)
    train_cfg = model.semi_train_cfg
    assert schedulers[0].end == max_iters
    assert train_cfg['max_iters'] == max_iters
    # the unlabeled loader's epoch: 120 images, 4 per iteration
    assert train_cfg['iters_per_epoch'] == NUM_UNLABELED // 4 == 30
    warm_up = model.supervised_only_iters()
    assert warm_up == 1 * 30  # the recipe's one supervised epoch
    ema = [h for h in hooks if type(h).__name__ == 'EMATeacherHook']
    assert [h.begin_iter for h in ema] == [warm_up]
    # the drop rate decays over max_iters, piecewise constant per epoch
    assert model.progress(59) == pytest.approx(30 / max_iters)
    last = max_iters - 1
    assert model.progress(last) == pytest.approx(last // 30 * 30 / max_iters)


def test_u2pl_explicit_values_override_the_run():
    cfg = _config(U2PL, **{
        'train_cfg.max_iters': 1000,
        'model.semi_train_cfg.max_iters': 4000,
        'model.semi_train_cfg.iters_per_epoch': 7,
        'model.semi_train_cfg.sup_only_iters': 3,
        'custom_hooks.0.begin_iter': 5})
    model, _, hooks, schedulers = _run(cfg)
    assert schedulers[0].end == 1000
    assert model.semi_train_cfg['max_iters'] == 4000
    assert model.semi_train_cfg['iters_per_epoch'] == 7
    assert model.supervised_only_iters() == 3
    assert hooks[0].begin_iter == 5


@pytest.mark.parametrize('max_iters', [1000, 2500])
def test_css_schedules_follow_max_iters(max_iters):
    cfg = _config(CSS, **{'train_cfg.max_iters': max_iters})
    model, _, hooks, schedulers = _run(cfg)
    assert schedulers[0].end == max_iters
    # lambda_c ramps down over labeled epochs: 40 images, 8 per iteration
    assert model.semi_train_cfg['iters_per_epoch'] == NUM_LABELED // 8 == 5
    assert model.contrast_lambda(4) == model.contrast_lambda(0)
    assert model.contrast_lambda(5) < model.contrast_lambda(4)
    assert [h.begin_iter for h in hooks] == [0]  # CSS: no warm-up


def test_a_model_without_the_run_names_the_missing_key():
    cfg = _config(CSS)
    model = MODELS.build(cfg.model)
    with pytest.raises(ValueError, match='semi_train_cfg.iters_per_epoch'):
        model.contrast_lambda(0)
    cfg = _config(U2PL)
    model = MODELS.build(cfg.model)
    with pytest.raises(ValueError, match='semi_train_cfg.max_iters'):
        model.progress(0)

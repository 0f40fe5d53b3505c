"""Each method trains a stock mmseg segmentor (PSPNet, DeepLabV3, mmseg's
DeepLabV3+, UPerNet, SegFormer, DANet, EncNet; tiny variants) on the
ToyShapes data with mmengine's Runner: the README's 'any segmentor'
table."""
import copy
import math
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from test_models._stock_heads import FAMILIES, stock_segmentor_cfg
from ._helpers import REPO_ROOT

TOY = osp.join(REPO_ROOT, 'configs', 'toy')
METHOD_CONFIGS = {
    'UniMatch': 'unimatch_r18s_toyshapes-1_16.py',
    'CorrMatch': 'corrmatch_r18s_toyshapes-1_16.py',
    'U2PL': 'u2pl_r18s_toyshapes-1_16.py',
    'CSS': 'css_r18s_toyshapes-1_16.py',
    'RankMatch': 'rankmatch_r18s_toyshapes-1_16.py',
}


def _config(method: str, family: str, work_dir: str) -> Config:
    cfg = Config.fromfile(osp.join(TOY, METHOD_CONFIGS[method]))
    segmentor = cfg.model.segmentor
    cfg.model.segmentor = stock_segmentor_cfg(
        family, segmentor.decode_head.num_classes,
        copy.deepcopy(segmentor.data_preprocessor))
    if method == 'U2PL':  # the unsupervised terms from the first step
        cfg.model.semi_train_cfg.sup_only_iters = 0
        cfg.custom_hooks[0].begin_iter = 0
    cfg.train_cfg.max_iters = 2
    cfg.train_cfg.val_interval = 1000
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.train_dataloader.sampler.batch_size = 4
    cfg.train_dataloader.batch_size = 4
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook',
                                        interval=1000, save_last=False)
    cfg.work_dir = work_dir
    return cfg


@pytest.mark.parametrize('method', sorted(METHOD_CONFIGS))
@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_method_trains_stock_segmentor(family, method, toy_data_root,
                                       tmp_path, monkeypatch):
    monkeypatch.chdir(toy_data_root)
    runner = Runner.from_cfg(_config(method, family, str(tmp_path)))
    runner.train()
    assert runner.iter == 2
    scalars = runner.message_hub.log_scalars
    losses = {k: v.current() for k, v in scalars.items()
              if k.startswith('train/') and 'loss' in k}
    # DAHead's terms are sup.decode.{pam_cam,pam,cam}.loss_ce
    assert 'train/loss' in losses and any(
        k.startswith('train/sup.decode.') and k.endswith('.loss_ce')
        for k in losses), sorted(losses)
    assert any(k.startswith('train/unsup.') for k in losses), sorted(losses)
    assert all(math.isfinite(v) for v in losses.values()), losses
    head = runner.model.student.decode_head
    assert type(head).__name__ == FAMILIES[family][1]['type']

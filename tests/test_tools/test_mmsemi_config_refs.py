# Copyright (c) mmsemi contributors. All rights reserved.
"""`mmsemi::` base references resolve from a regular (wheel) install,
outside the repository, and the installed tools/train.py trains a user
config that uses them."""
import glob
import os.path as osp
import sys
import textwrap

from ._helpers import FAST_CFG_OPTIONS, REPO_ROOT, run_checked

STOCK = 'unimatch_pspnet_r101-d8_4xb2+2-80e_voc12aug-1-16-513x513.py'
LOAD_STOCK = textwrap.dedent(f"""
    import os.path as osp
    import mmsemi
    from mmengine import Config
    from mmsemi.utils.config_lookup import configs_dir
    path = osp.join(configs_dir(), 'stock', {STOCK!r})
    cfg = Config.fromfile(path)
    print('CONFIGS', configs_dir())
    print('MODEL', cfg.model.type, cfg.model.segmentor.decode_head.type)
    print('SAMPLER', cfg.train_dataloader.sampler.type)
""")


def _installed_configs(env: dict, cwd: str) -> str:
    """Load a configs/stock config with the installed mmsemi; returns the
    config folder that `mmsemi::` resolved to."""
    out = run_checked([sys.executable, '-c', LOAD_STOCK], cwd=cwd, env=env)
    assert 'MODEL UniMatch PSPHead' in out, out
    assert 'SAMPLER LabeledUnlabeledSampler' in out, out
    line = next(x for x in out.splitlines() if x.startswith('CONFIGS '))
    return line.split(' ', 1)[1]


def test_stock_config_loads_from_installed_wheel(wheel_install, tmp_path):
    configs = _installed_configs(wheel_install[1], str(tmp_path))
    assert not configs.startswith(REPO_ROOT), configs
    assert configs.endswith(osp.join('mmsemi', '.mim', 'configs'))


def test_installed_train_py_runs_user_config_with_mmsemi_base(
        wheel_install, toy_data_root, tmp_path):
    env = wheel_install[1]
    configs = _installed_configs(env, toy_data_root)
    train_py = osp.join(osp.dirname(configs), 'tools', 'train.py')
    user_cfg = tmp_path / 'my_toy_unimatch.py'
    user_cfg.write_text(
        "_base_ = ['mmsemi::toy/unimatch_r18s_toyshapes-1_16.py']\n"
        'model = dict(semi_train_cfg=dict(conf_thresh=0.9))\n')
    work_dir = str(tmp_path / 'work_dir')
    run_checked([
        sys.executable, train_py,
        str(user_cfg), '--work-dir', work_dir, '--cfg-options',
        'train_cfg.max_iters=2', 'default_hooks.checkpoint.interval=2',
        *FAST_CFG_OPTIONS
    ],
                cwd=toy_data_root,
                env=env,
                log_path=str(tmp_path / 'train.log'))
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    dumped = glob.glob(osp.join(work_dir, 'my_toy_unimatch.py'))
    assert len(dumped) == 1
    with open(dumped[0]) as f:
        text = f.read()
    # The dumped config is the merged one: the child's override and the
    # base's settings.
    assert 'conf_thresh=0.9' in text
    assert "type='UniMatch'" in text

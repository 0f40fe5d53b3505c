# Copyright (c) mmsemi contributors. All rights reserved.
"""How a config becomes a semi-supervised method config, written once.

A method's recipe lives in ``configs/_base_/recipes/<method>_<data>.py``
under ``semi_`` keys (``semi_model``, ``semi_optim_wrapper``,
``semi_param_scheduler``, ``semi_custom_hooks``, ``semi_auto_scale_lr``).
The configs that use it call one of these functions with their ``_base_``
(the first statement of the file must be ``_base_ = [...]``)::

    from mmsemi.utils.semi_config import semi_method  # noqa: E402
    globals().update(semi_method(_base_))

and get plain config keys: ``Config.fromfile``, ``--cfg-options`` and
``cfg.dump()`` see an ordinary config.
"""
import os.path as osp
from typing import Dict


def _wrapped(base, segmentor: dict, data_preprocessor=None) -> dict:
    """``semi_model`` around ``segmentor`` (replacing the base's model)."""
    model = dict(base['semi_model'], _delete_=True, segmentor=segmentor)
    if data_preprocessor is not None:
        model['data_preprocessor'] = dict(
            type='MultiBranchSegDataPreprocessor',
            data_preprocessor=data_preprocessor)
    return model


def _merged(base: dict, changes: dict) -> dict:
    """``changes`` merged into ``base`` key by key (nested dicts too)."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            value = _merged(out[key], value)
        out[key] = value
    return out


def _dataset_segmentor(base) -> dict:
    """The base's segmentor with what the dataset and the recipe decide:
    the dataset base's ``num_classes`` on every head, and the recipe's
    ``semi_segmentor`` changes (e.g. OHEM and sliding-window testing)."""
    model = dict(base['model'])
    if 'num_classes' in base:
        for key in ('decode_head', 'auxiliary_head'):
            head = model.get(key)
            if isinstance(head, dict):
                model[key] = dict(head, num_classes=base['num_classes'])
            elif isinstance(head, (list, tuple)):
                model[key] = [dict(h, num_classes=base['num_classes'])
                              for h in head]
    return _merged(model, base.get('semi_segmentor', {}))


def _evaluation(base) -> Dict:
    """The recipe's optional validation loop (``semi_val_cfg``, e.g.
    teacher and student) and the metric its best checkpoint is chosen by
    (``semi_save_best``)."""
    keys = {}
    if 'semi_val_cfg' in base:
        keys['val_cfg'] = dict(base['semi_val_cfg'], _delete_=True)
    if 'semi_save_best' in base:
        keys['default_hooks'] = dict(
            checkpoint=dict(save_best=base['semi_save_best']))
    return keys


def semi_method(base) -> Dict:
    """The method part of a method config (``configs/<method>/``) whose
    ``_base_`` lists a segmentor base (``model``, ``data_preprocessor``), a
    semi dataset base (``crop_size``) and a recipe base.

    Returns:
        dict: ``data_preprocessor`` (padding to the crop), ``segmentor``
        (with the dataset's ``num_classes`` and the recipe's
        ``semi_segmentor`` changes), ``model`` (the recipe's ``semi_model``
        around the segmentor), ``optim_wrapper``, ``param_scheduler``,
        ``custom_hooks`` and ``auto_scale_lr`` from the recipe, and, when
        the recipe has them, ``val_cfg`` (``semi_val_cfg``) and the
        checkpoint's ``save_best`` (``semi_save_best``).
    """
    data_preprocessor = dict(base['data_preprocessor'],
                             size=tuple(base['crop_size']))
    segmentor = dict(_dataset_segmentor(base),
                     data_preprocessor=data_preprocessor)
    return dict(
        data_preprocessor=data_preprocessor,
        segmentor=segmentor,
        model=_wrapped(base, segmentor, data_preprocessor),
        optim_wrapper=dict(base['semi_optim_wrapper'], _delete_=True),
        param_scheduler=base['semi_param_scheduler'],
        custom_hooks=base['semi_custom_hooks'],
        auto_scale_lr=base['semi_auto_scale_lr'],
        **_evaluation(base))


def stock_semi_method(base, stock_schedule: bool = False) -> Dict:
    """A full stock mmseg config turned into a method config
    (``configs/stock/``): ``base`` lists the stock config and a stock
    semi base (``configs/_base_/semi/semi_<method>_<data>.py``).

    The stock segmentor is kept (training batches padded to the method's
    crop); training data, length, recipe and hooks are the method's. With
    ``stock_schedule`` the stock optimiser and schedulers stay (e.g.
    SegFormer's AdamW and warm-up; the methods' SGD recipes are for
    ResNets), the last scheduler without its ``end``, so that it ends at
    ``train_cfg.max_iters``.

    Returns:
        dict: ``segmentor``, ``model``, ``train_dataloader``,
        ``auto_scale_lr``, ``train_cfg``, ``param_scheduler``,
        ``custom_hooks``, ``default_hooks`` (mmsemi's hooks merged into
        the stock ones) and, without ``stock_schedule``, ``optim_wrapper``.
    """
    segmentor = dict(base['model'], data_preprocessor=dict(
        base['model']['data_preprocessor'], size=base['semi_crop_size']))
    keys = dict(
        segmentor=segmentor,
        model=_wrapped(base, segmentor),
        train_dataloader=dict(base['semi_train_dataloader'], _delete_=True),
        auto_scale_lr=base['semi_auto_scale_lr'],
        train_cfg=dict(base['semi_train_loop'], _delete_=True),
        custom_hooks=base['semi_custom_hooks'],
        default_hooks=base['semi_default_hooks'])
    if stock_schedule:
        *first, last = base['param_scheduler']
        keys['param_scheduler'] = [
            *first, {k: v for k, v in last.items() if k != 'end'}
        ]
    else:
        keys['optim_wrapper'] = dict(base['semi_optim_wrapper'],
                                     _delete_=True)
        keys['param_scheduler'] = base['semi_param_scheduler']
    return keys


def model_base_dict(name: str) -> Dict:
    """The keys of a model base under ``configs/_base_/models/`` (``model``,
    ``data_preprocessor``, ...) as a plain dict."""
    from mmengine.config import Config

    from .config_lookup import configs_dir
    return Config.fromfile(
        osp.join(configs_dir(), '_base_', 'models', name)).to_dict()


def with_model_base(base, model_base: str) -> Dict:
    """Keys that put the segmentor of another model base into a method
    config, everything else kept: a DINOv2 size variant of a UniMatch V2
    config, or another method's config on a DINOv2 student.

    The new segmentor gets the config's ``num_classes``, its recipe's
    ``semi_segmentor`` changes and its data preprocessor (padding to its
    crop).

    Args:
        base: the calling config's ``_base_`` (a method config).
        model_base (str): a model base under ``configs/_base_/models/``,
            e.g. ``'dinov2-b_dpt.py'``.

    Returns:
        dict: ``segmentor`` and ``model.segmentor`` (replacing the old
        segmentor, not merged into it).
    """
    model = model_base_dict(model_base)['model']
    segmentor = dict(
        _dataset_segmentor(dict(base, model=model)),
        data_preprocessor=base['segmentor']['data_preprocessor'],
        _delete_=True)
    return dict(segmentor=segmentor, model=dict(segmentor=segmentor))


def with_schedule_base(name: str) -> Dict:
    """The optimiser and lr schedule of a schedule base, replacing the
    config's own: a config whose parent has another schedule (e.g. a
    demo arm moved to the ViT stand-in, ``'toy_vit_adamw.py'``).

    Args:
        name (str): a schedule base under ``configs/_base_/schedules/``.

    Returns:
        dict: ``optim_wrapper`` (replacing the parent's) and
        ``param_scheduler``.
    """
    from mmengine.config import Config

    from .config_lookup import configs_dir
    schedule = Config.fromfile(
        osp.join(configs_dir(), '_base_', 'schedules', name)).to_dict()
    return dict(optim_wrapper=dict(schedule['optim_wrapper'], _delete_=True),
                param_scheduler=schedule['param_scheduler'])


def _with_crop(value, crop_size):
    """A copy of a config value with every ``RandomCrop``'s size set."""
    if isinstance(value, (list, tuple)):
        return [_with_crop(item, crop_size) for item in value]
    if not isinstance(value, dict):
        return value
    out = {k: _with_crop(v, crop_size) for k, v in value.items()}
    if out.get('type') == 'RandomCrop':
        out['crop_size'] = tuple(crop_size)
    return out


def dinov2_student(base, model_base: str = 'dinov2-s_dpt.py',
                   crop_size=(518, 518),
                   vit_recipe: str = 'unimatch_v2_voc12.py') -> Dict:
    """A method config (``base``, e.g. CorrMatch on VOC classic 92) moved
    to a DINOv2 + DPT student: the model base's segmentor, the method's
    training data with its crops at ``crop_size`` (same pipelines, split
    files and batch), validation and test at the original size rounded to
    a multiple of 14 (:func:`patch14_test_loader`), and
    the optimiser and lr schedule of the ViT recipe (``configs/_base_/
    recipes/<vit_recipe>``: AdamW, encoder lr 5e-6, every other part, e.g.
    CorrMatch's ``corr_head``, 40x, poly to 0). The method's own recipe
    (``semi_train_cfg``, hooks, schedule length) is kept.

    Returns:
        dict: ``crop_size``, ``train_dataloader``, ``test_pipeline``,
        ``val_dataloader``, ``test_dataloader``, ``data_preprocessor``,
        ``segmentor``,
        ``model``, ``optim_wrapper`` and ``param_scheduler``.
    """
    from mmengine.config import Config

    from mmsemi.datasets.semi_pipelines import (patch14_test_loader,
                                                patch14_test_pipeline)
    from .config_lookup import configs_dir
    data_preprocessor = dict(
        model_base_dict(model_base)['data_preprocessor'],
        size=tuple(crop_size))
    segmentor = with_model_base(
        dict(base, segmentor=dict(data_preprocessor=data_preprocessor)),
        model_base)['segmentor']
    test_loader = patch14_test_loader()
    vit = Config.fromfile(osp.join(configs_dir(), '_base_', 'recipes',
                                   vit_recipe)).to_dict()
    return dict(
        crop_size=tuple(crop_size),
        train_dataloader=_with_crop(base['train_dataloader'], crop_size),
        test_pipeline=patch14_test_pipeline(),
        val_dataloader=test_loader,
        test_dataloader=test_loader,
        data_preprocessor=dict(data_preprocessor, _delete_=True),
        segmentor=segmentor,
        model=dict(segmentor=segmentor,
                   data_preprocessor=dict(data_preprocessor=dict(
                       data_preprocessor, _delete_=True))),
        optim_wrapper=dict(vit['semi_optim_wrapper'], _delete_=True),
        param_scheduler=vit['semi_param_scheduler'])


def _replacing(base, key: str, value):
    """``value`` as a child config key that replaces, not merges into, the
    base's value (mmsemi's hook changes, ``default_hooks``, merge)."""
    if isinstance(value, dict) and key in base and key != 'default_hooks':
        return dict(value, _delete_=True)
    return value


def with_bases(base, model_base: str, dataset_base: str, recipe: str,
               split_dir: str, batch_size: int) -> Dict:
    """Every key of a method config built on other bases than its parent's
    (a config that derives from another root, e.g. UniMatch V2 on COCO
    from UniMatch V2 on VOC): the model base, the semi dataset base and the
    recipe, by file name under ``configs/_base_/{models,datasets,
    recipes}``, as a root listing them gets them, each replacing the
    parent's value, and the train dataloader on ``split_dir`` with
    ``batch_size`` images (labeled + unlabeled) per process.

    Args:
        base: the calling config's ``_base_`` (its parent, a method
            config whose runtime and schedule bases stay).
    """
    from mmengine.config import Config

    from mmsemi.datasets.semi_pipelines import split_train_dataloader
    from .config_lookup import configs_dir
    paths = [osp.join(configs_dir(), '_base_', folder, name)
             for folder, name in (('models', model_base),
                                  ('datasets', dataset_base),
                                  ('recipes', recipe))]
    merged = Config.fromstring(f'_base_ = {paths!r}\n', '.py').to_dict()
    keys = dict(merged, **semi_method(merged))
    loader = split_train_dataloader(merged, split_dir)
    keys['train_dataloader'] = dict(
        loader, batch_size=batch_size,
        sampler=dict(loader['sampler'], batch_size=batch_size))
    return {key: _replacing(base, key, value) for key, value in keys.items()}

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
from typing import Dict


def _wrapped(base, segmentor: dict, data_preprocessor=None) -> dict:
    """``semi_model`` around ``segmentor`` (replacing the base's model)."""
    model = dict(base['semi_model'], _delete_=True, segmentor=segmentor)
    if data_preprocessor is not None:
        model['data_preprocessor'] = dict(
            type='MultiBranchSegDataPreprocessor',
            data_preprocessor=data_preprocessor)
    return model


def semi_method(base) -> Dict:
    """The method part of a method config (``configs/<method>/``) whose
    ``_base_`` lists a segmentor base (``model``, ``data_preprocessor``), a
    semi dataset base (``crop_size``) and a recipe base.

    Returns:
        dict: ``data_preprocessor`` (padding to the crop), ``segmentor``,
        ``model`` (the recipe's ``semi_model`` around the segmentor),
        ``optim_wrapper``, ``param_scheduler``, ``custom_hooks`` and
        ``auto_scale_lr`` from the recipe.
    """
    data_preprocessor = dict(base['data_preprocessor'],
                             size=tuple(base['crop_size']))
    segmentor = dict(base['model'], data_preprocessor=data_preprocessor)
    return dict(
        data_preprocessor=data_preprocessor,
        segmentor=segmentor,
        model=_wrapped(base, segmentor, data_preprocessor),
        optim_wrapper=dict(base['semi_optim_wrapper'], _delete_=True),
        param_scheduler=base['semi_param_scheduler'],
        custom_hooks=base['semi_custom_hooks'],
        auto_scale_lr=base['semi_auto_scale_lr'])


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

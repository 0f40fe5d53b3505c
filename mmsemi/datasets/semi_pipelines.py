# Copyright (c) mmsemi contributors. All rights reserved.
"""Builders of the semi-supervised training data that the configs call.

mmengine configs take no parameters, and a child that sets ``crop_size``
does not re-evaluate the pipelines of its base. The pieces that depend on
the crop or on a method's branches are therefore built by these functions,
called from the config that knows the value::

    _base_ = ['./semi_voc12.py']
    from mmsemi.datasets.semi_pipelines import semi_train_data  # noqa
    globals().update(semi_train_data(_base_, crop_size=(513, 513)))

(``_base_`` must be the first statement, so mmengine parses the file as a
plain config; the imported function itself is dropped from the config.)
The result is plain dicts and lists: ``Config.fromfile``, ``--cfg-options``
and ``cfg.dump()`` see an ordinary config.
"""
from typing import Dict, List, Optional, Sequence

#: Labeled branch, weak view and UniMatch's two strong views.
UNIMATCH_BRANCHES = ('sup', 'unsup_weak', 'unsup_strong1', 'unsup_strong2')


def geometric_pipeline(crop_size: Sequence[int],
                       ratio_range: Sequence[float] = (0.5, 2.0)) -> List:
    """Geometry applied once per image, so the weak and strong views of an
    unlabeled image stay pixel-aligned (UniMatch: rescale of the image's own
    long side in ``ratio_range``, random crop, horizontal flip)."""
    return [
        dict(type='RandomRelativeResize', ratio_range=tuple(ratio_range)),
        dict(type='RandomCrop', crop_size=tuple(crop_size),
             cat_max_ratio=1.0),
        dict(type='RandomFlip', prob=0.5),
    ]


def semi_train_pipelines(crop_size: Sequence[int],
                         num_classes: int,
                         strong_pipeline: List,
                         branch_field: Sequence[str] = UNIMATCH_BRANCHES,
                         ratio_range: Sequence[float] = (0.5, 2.0)) -> Dict:
    """The labeled, unlabeled and supervised-only training pipelines.

    Every branch of ``branch_field`` after ``'sup'`` and ``'unsup_weak'``
    is a strong view built by ``strong_pipeline``.

    Returns:
        dict: ``geometric_pipeline``, ``sup_pipeline``, ``unsup_pipeline``
        and ``sup_only_pipeline``.
    """
    branch_field = list(branch_field)
    for needed in ('sup', 'unsup_weak'):
        if needed not in branch_field:
            raise ValueError(f'branch_field must hold {needed!r}; got '
                             f'{branch_field}')
    geometry = geometric_pipeline(crop_size, ratio_range)
    strong = {
        name: list(strong_pipeline)
        for name in branch_field if name not in ('sup', 'unsup_weak')
    }
    return dict(
        geometric_pipeline=geometry,
        sup_pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='CheckSegLabel', num_classes=num_classes),
            *geometry,
            dict(type='MultiBranch', branch_field=branch_field,
                 sup=[dict(type='PackSegInputs')]),
        ],
        unsup_pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadUnlabeledAnnotations', with_gt=False),
            *geometry,
            dict(type='MultiBranch', branch_field=branch_field,
                 unsup_weak=[dict(type='PackSemiSegInputs')], **strong),
        ],
        # Supervised-only baseline: the same geometry on the labeled split.
        sup_only_pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='CheckSegLabel', num_classes=num_classes),
            *geometry,
            dict(type='PackSegInputs'),
        ],
    )


#: CSS's branches: the weak view and one strong view whose geometry (rescale,
#: CutMix, flip) the model applies.
CSS_BRANCHES = ('sup', 'unsup_weak', 'unsup_strong')


def css_train_pipelines(crop_size: Sequence[int],
                        num_classes: int,
                        labeled_scale: Optional[Sequence[float]] = None
                        ) -> Dict:
    """CSS's official training pipelines: labeled images rescaled in
    ``labeled_scale`` (none when ``None``), cropped, photometrically
    augmented and flipped; unlabeled images cropped only (the weak view),
    their strong view photometrically augmented here and geometrically in
    the model.

    Returns:
        dict: ``branch_field``, ``photometric`` (ColorJitter 0.25 with
        p = 0.8, blur with p = 0.5), ``sup_pipeline``, ``unsup_pipeline``.
    """
    branch_field = list(CSS_BRANCHES)
    photometric = [
        dict(type='StrongColorJitter', brightness=0.25, contrast=0.25,
             saturation=0.25, hue=0.25, prob=0.8),
        dict(type='StrongGaussianBlur', sigma=(0.15, 1.15), prob=0.5),
    ]
    crop = dict(type='RandomCrop', crop_size=tuple(crop_size),
                cat_max_ratio=1.0)
    rescale = [] if labeled_scale is None else [
        dict(type='RandomRelativeResize', ratio_range=tuple(labeled_scale))
    ]
    return dict(
        branch_field=branch_field,
        photometric=photometric,
        sup_pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='CheckSegLabel', num_classes=num_classes),
            *rescale,
            crop,
            *photometric,
            dict(type='RandomFlip', prob=0.5),
            dict(type='MultiBranch', branch_field=branch_field,
                 sup=[dict(type='PackSegInputs')]),
        ],
        unsup_pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadUnlabeledAnnotations', with_gt=False),
            crop,
            dict(type='MultiBranch', branch_field=branch_field,
                 unsup_weak=[dict(type='PackSemiSegInputs')],
                 unsup_strong=[*photometric,
                               dict(type='PackSemiSegInputs')]),
        ])


def semi_train_data(base,
                    crop_size: Optional[Sequence[int]] = None,
                    branch_field: Optional[Sequence[str]] = None,
                    strong_pipeline: Optional[List] = None,
                    ratio_range: Optional[Sequence[float]] = None,
                    batch_size: Optional[int] = None) -> Dict:
    """The crop- and branch-dependent keys of a semi dataset base
    (``configs/_base_/datasets/semi_<data>.py``), built from ``base``, the
    calling config's ``_base_``.

    Arguments left ``None`` keep the base's value (``crop_size``,
    ``branch_field``, ``strong_pipeline``, the rescaling range of its
    ``geometric_pipeline``, else (0.5, 2.0), the dataloader's batch).
    ``batch_size`` is the per-process batch, labeled + unlabeled (the
    sampler's too).

    Returns:
        dict: ``crop_size``, ``branch_field``, the pipelines of
        :func:`semi_train_pipelines`, ``labeled_dataset``,
        ``unlabeled_dataset`` and ``train_dataloader``.
    """
    crop_size = tuple(crop_size if crop_size is not None else
                      base['crop_size'])
    branch_field = list(branch_field if branch_field is not None else
                        base.get('branch_field', UNIMATCH_BRANCHES))
    strong = strong_pipeline if strong_pipeline is not None else \
        base['strong_pipeline']
    if ratio_range is None:
        ratio_range = next(
            (t['ratio_range'] for t in base.get('geometric_pipeline', [])
             if t['type'] == 'RandomRelativeResize'), (0.5, 2.0))
    keys = semi_train_pipelines(crop_size, base['num_classes'], strong,
                                branch_field, ratio_range)
    labeled = dict(base['labeled_dataset'], pipeline=keys['sup_pipeline'])
    unlabeled = dict(base['unlabeled_dataset'],
                     pipeline=keys['unsup_pipeline'])
    loader = dict(base['train_dataloader'])
    if batch_size is not None:
        loader.update(batch_size=batch_size,
                      sampler=dict(loader['sampler'], batch_size=batch_size))
    loader['dataset'] = dict(type='ConcatDataset',
                             datasets=[labeled, unlabeled])
    return dict(keys, crop_size=crop_size, branch_field=branch_field,
                labeled_dataset=labeled, unlabeled_dataset=unlabeled,
                train_dataloader=loader)


def stock_semi_train_data(base, split: str, crop_size: Sequence[int],
                          branch_field: Optional[Sequence[str]],
                          batch_size: int,
                          css_labeled_scale: Optional[Sequence[float]] = None,
                          css: bool = False) -> Dict:
    """The ``semi_``-prefixed training data of a stock-config base
    (``configs/_base_/semi/semi_<method>_<data>.py``), on the dataset keys
    of ``semi_data_<data>.py`` (``base`` is the caller's ``_base_``).
    ``css=True`` builds CSS's pipelines (:func:`css_train_pipelines`, with
    ``css_labeled_scale``) instead of the shared geometry + strong views.

    Returns:
        dict: ``semi_split``, ``semi_crop_size``, ``semi_branch_field``,
        ``semi_labeled_pipeline``, ``semi_unlabeled_pipeline``,
        ``semi_train_dataloader`` and ``semi_geometric_pipeline`` (or
        ``semi_photometric`` for CSS).
    """
    if css:
        keys = css_train_pipelines(crop_size, base['semi_num_classes'],
                                   css_labeled_scale)
        extra = dict(semi_photometric=keys['photometric'])
        branch_field = keys['branch_field']
    else:
        keys = semi_train_pipelines(crop_size, base['semi_num_classes'],
                                    base['semi_strong_pipeline'],
                                    branch_field)
        extra = dict(semi_geometric_pipeline=keys['geometric_pipeline'])
    common = dict(type=base['semi_dataset_type'],
                  data_root=base['semi_data_root'],
                  data_prefix=base['semi_data_prefix'])
    split_dir = f"{base['semi_split_root']}/{split}"
    return dict(
        semi_split=split,
        semi_crop_size=tuple(crop_size),
        semi_branch_field=list(branch_field),
        **extra,
        semi_labeled_pipeline=keys['sup_pipeline'],
        semi_unlabeled_pipeline=keys['unsup_pipeline'],
        semi_train_dataloader=dict(
            batch_size=batch_size,
            num_workers=4,
            persistent_workers=True,
            sampler=dict(type='LabeledUnlabeledSampler',
                         batch_size=batch_size, source_ratio=[1, 1]),
            dataset=dict(type='ConcatDataset', datasets=[
                dict(common,
                     seg_map_fallback=base['semi_seg_map_fallback'],
                     split_file=f'{split_dir}/labeled.txt',
                     pipeline=keys['sup_pipeline']),
                dict(common, split_file=f'{split_dir}/unlabeled.txt',
                     with_label=False, pipeline=keys['unsup_pipeline']),
            ])))


def split_train_dataloader(base, split_dir: str) -> Dict:
    """``base``'s train dataloader on another split: ``base`` is the calling
    config's ``_base_``, ``split_dir`` the folder (relative to the data
    root) holding ``labeled.txt`` and ``unlabeled.txt``; the datasets are
    ``base.labeled_dataset`` and ``base.unlabeled_dataset`` with these split
    files."""
    return dict(
        base['train_dataloader'],
        dataset=dict(type='ConcatDataset', datasets=[
            dict(base['labeled_dataset'],
                 split_file=f'{split_dir}/labeled.txt'),
            dict(base['unlabeled_dataset'],
                 split_file=f'{split_dir}/unlabeled.txt'),
        ]))


def patch14_test_pipeline() -> List:
    """The test pipeline of a patch-14 ViT (UniMatch V2's evaluation): the
    image at its original size rounded to the nearest multiple of 14, the
    prediction resized back and compared with the original label."""
    return [
        dict(type='LoadImageFromFile'),
        dict(type='ResizeToNearestMultiple', divisor=14),
        dict(type='LoadAnnotations'),
        dict(type='PackSegInputs'),
    ]


def patch14_test_loader() -> Dict:
    """Validation/test dataloader changes for a patch-14 ViT
    (:func:`patch14_test_pipeline`)."""
    return dict(dataset=dict(pipeline=patch14_test_pipeline()))


def patch14_semi_data(base, crop_size: Sequence[int]) -> Dict:
    """:func:`semi_train_data` at ``crop_size`` for a patch-14 ViT, with
    validation, test and ``mmseg.apis.inference_model`` (the top-level
    ``test_pipeline``) as :func:`patch14_test_pipeline` sets them.

    Returns:
        dict: the keys of :func:`semi_train_data`, ``test_pipeline``,
        ``val_dataloader`` and ``test_dataloader``.
    """
    loader = patch14_test_loader()
    return dict(semi_train_data(base, crop_size=crop_size),
                test_pipeline=patch14_test_pipeline(),
                val_dataloader=loader, test_dataloader=loader)


def semi_dataset_keys(dataset_type: str, data_root: str, data_prefix: Dict,
                      val_prefix: Dict, split_dir: str) -> Dict:
    """The dataset keys of a semi dataset base: labeled and unlabeled
    templates on the split folder ``split_dir`` (relative to
    ``data_root``), and validation/test on the whole ``val_prefix``
    folders.

    Returns:
        dict: ``dataset_type``, ``data_root``, ``data_prefix``,
        ``labeled_dataset``, ``unlabeled_dataset``, ``val_dataloader`` and
        ``test_dataloader``.
    """
    common = dict(type=dataset_type, data_root=data_root,
                  data_prefix=data_prefix)
    val = dict(dataset=dict(common, data_prefix=val_prefix, split_file=''))
    return dict(
        dataset_type=dataset_type,
        data_root=data_root,
        data_prefix=data_prefix,
        labeled_dataset=dict(common, split_file=f'{split_dir}/labeled.txt'),
        unlabeled_dataset=dict(common,
                               split_file=f'{split_dir}/unlabeled.txt',
                               with_label=False),
        val_dataloader=val,
        test_dataloader=val)

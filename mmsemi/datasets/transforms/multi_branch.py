# Copyright (c) mmsemi contributors. All rights reserved.
"""Branch one sample into several views (labeled / weak / strong)."""
import copy
from typing import Callable, Dict, List, Optional, Sequence, Union

from mmcv.transforms import BaseTransform, Compose

from mmseg.registry import TRANSFORMS

PipelineCfg = Union[dict, Callable, Sequence[Union[dict, Callable]]]


def build_pipeline(pipeline: PipelineCfg) -> Compose:
    """Build a branch pipeline with mmseg's registry.

    Building through ``mmseg.registry.TRANSFORMS`` (instead of mmcv's root
    registry used by :class:`mmcv.transforms.Compose`) finds mmseg and mmsemi
    transforms even when no default scope is set, e.g. in unit tests.

    Args:
        pipeline: one transform (config dict or callable) or a list of them.

    Returns:
        Compose: the built pipeline.
    """
    if isinstance(pipeline, dict) or callable(pipeline):
        pipeline = [pipeline]
    return Compose(
        [TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline])


@TRANSFORMS.register_module()
class MultiBranch(BaseTransform):
    """Run several pipelines on deep copies of one sample.

    Semantics of mmdet's ``MultiBranch``: every branch named in
    ``branch_field`` appears in the output, as ``None`` when this sample has
    no pipeline for it, so labeled and unlabeled samples collate into the
    same structure. Transforms placed *before* ``MultiBranch`` (resize, crop,
    flip) are shared, so the branches are pixel-aligned.

    Example:
        >>> MultiBranch(branch_field=['sup', 'unsup_weak', 'unsup_strong1'],
        ...             unsup_weak=[dict(type='PackSemiSegInputs')],
        ...             unsup_strong1=[dict(type='StrongColorJitter'),
        ...                            dict(type='PackSemiSegInputs')])

    Output for an unlabeled sample::

        {'inputs': {'sup': None, 'unsup_weak': Tensor(3, H, W),
                    'unsup_strong1': Tensor(3, H, W)},
         'data_samples': {'sup': None, 'unsup_weak': SegDataSample, ...}}

    Args:
        branch_field (list[str]): all branch names in use (for every source).
        **branch_pipelines: pipeline per branch of this source; each must end
            with a packing transform (``PackSegInputs``/``PackSemiSegInputs``).
    """

    def __init__(self, branch_field: List[str],
                 **branch_pipelines: PipelineCfg) -> None:
        if not branch_field or len(set(branch_field)) != len(branch_field):
            raise ValueError('branch_field must be a non-empty list of unique '
                             f'branch names, got {branch_field!r}')
        unknown = sorted(set(branch_pipelines) - set(branch_field))
        if unknown:
            raise ValueError(f'MultiBranch got pipelines for {unknown}, which '
                             f'are not in branch_field={list(branch_field)}')
        if not branch_pipelines:
            raise ValueError('MultiBranch needs at least one branch pipeline')
        self.branch_field = list(branch_field)
        self.branch_pipelines = {
            branch: build_pipeline(pipeline)
            for branch, pipeline in branch_pipelines.items()
        }

    def transform(self, results: dict) -> Optional[Dict[str, dict]]:
        """Run every branch on its own deep copy of ``results``.

        Returns:
            dict | None: ``{key: {branch: value | None}}`` for each key the
            packing transforms produce (``inputs``, ``data_samples``); None if
            a branch pipeline returned None (the dataset then resamples).
        """
        multi_results = {
            branch: dict(inputs=None, data_samples=None)
            for branch in self.branch_field
        }
        for branch, pipeline in self.branch_pipelines.items():
            # Deep copy: a photometric transform in one branch must not
            # alter the image another branch (or the caller) sees.
            branch_results = pipeline(copy.deepcopy(results))
            if branch_results is None:
                return None
            multi_results[branch] = branch_results

        formatted: Dict[str, dict] = {}
        for branch, branch_results in multi_results.items():
            for key, value in branch_results.items():
                formatted.setdefault(key, {})[branch] = value
        return formatted

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(branch_field={self.branch_field}, '
                f'branch_pipelines={self.branch_pipelines})')

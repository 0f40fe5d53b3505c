"""What mmengine's Runner builds from a config's schedule, without the data
on disk: the train loop (``SemiIterBasedTrainLoop`` over stand-in labeled
and unlabeled sets of given sizes, with the config's sampler) and the
parameter schedulers (mmengine's own ``Runner._build_param_scheduler``)."""
from types import SimpleNamespace
from typing import List, Tuple

import torch
from mmengine.logging import MessageHub, MMLogger
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner
from torch.utils.data import ConcatDataset, DataLoader

from mmsemi.datasets import LabeledUnlabeledSampler
from mmsemi.engine.runner import SemiIterBasedTrainLoop


def stand_in_loader(cfg, num_labeled: int, num_unlabeled: int,
                    world_size: int = 1) -> DataLoader:
    """The config's labeled + unlabeled loader on ``range`` datasets of the
    given sizes (one process of ``world_size``)."""
    sampler_cfg = cfg.train_dataloader.sampler
    dataset = ConcatDataset([range(num_labeled), range(num_unlabeled)])
    sampler = LabeledUnlabeledSampler(
        dataset, batch_size=sampler_cfg.batch_size,
        source_ratio=sampler_cfg.get('source_ratio', (1, 1)), seed=0,
        rank=0, world_size=world_size)
    return DataLoader(dataset, batch_size=cfg.train_dataloader.batch_size,
                      sampler=sampler, collate_fn=list)


def epoch_lengths(cfg, num_labeled: int, num_unlabeled: int,
                  world_size: int) -> dict:
    """``SemiIterBasedTrainLoop.epoch_lengths`` for the config's batch on
    ``world_size`` processes."""
    loader = stand_in_loader(cfg, num_labeled, num_unlabeled, world_size)
    return SemiIterBasedTrainLoop.epoch_lengths(
        SimpleNamespace(sampler=loader.sampler))


def build_loop(cfg, model: torch.nn.Module, num_labeled: int,
               num_unlabeled: int) -> Tuple[SemiIterBasedTrainLoop,
                                            SimpleNamespace]:
    """The train loop the Runner builds from ``cfg.train_cfg`` for
    ``model`` (it hands the model the run's schedule), and the runner
    stand-in it sees."""
    runner = SimpleNamespace(
        model=model, visualizer=SimpleNamespace(dataset_meta=None),
        message_hub=MessageHub.get_current_instance(), seed=0, iter=0,
        logger=MMLogger.get_current_instance())
    train_cfg = dict(cfg.train_cfg)
    assert train_cfg.pop('type') == 'SemiIterBasedTrainLoop'
    loop = SemiIterBasedTrainLoop(
        runner, stand_in_loader(cfg, num_labeled, num_unlabeled),
        **train_cfg)
    runner._train_loop = loop
    runner.train_loop = loop
    return loop, runner


def build_param_schedulers(cfg, max_iters: int) -> List:
    """The parameter schedulers as mmengine's Runner builds them once its
    train loop of ``max_iters`` iterations exists (a scheduler without
    ``end`` ends at ``max_iters``)."""
    loop = object.__new__(SemiIterBasedTrainLoop)
    runner = SimpleNamespace(
        _train_loop=loop, max_iters=max_iters, max_epochs=1,
        train_dataloader=[None], logger=MMLogger.get_current_instance())
    optim = OptimWrapper(torch.optim.SGD(
        [torch.nn.Parameter(torch.zeros(1))], lr=0.01))
    return Runner._build_param_scheduler(runner, list(cfg.param_scheduler),
                                         optim)

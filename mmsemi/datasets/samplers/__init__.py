# Copyright (c) mmsemi contributors. All rights reserved.
from .labeled_unlabeled_sampler import LabeledUnlabeledSampler

__all__ = ['LabeledUnlabeledSampler']

# Copyright (c) mmsemi contributors. All rights reserved.
from .formatting import PackSemiSegInputs
from .geometric import RandomRelativeResize, ResizeToNearestMultiple
from .loading import CheckSegLabel, LoadUnlabeledAnnotations
from .multi_branch import MultiBranch
from .photometric import (StrongColorJitter, StrongGaussianBlur,
                          StrongRandomGrayscale)

__all__ = [
    'MultiBranch', 'LoadUnlabeledAnnotations', 'CheckSegLabel',
    'PackSemiSegInputs', 'RandomRelativeResize', 'ResizeToNearestMultiple',
    'StrongColorJitter', 'StrongRandomGrayscale', 'StrongGaussianBlur'
]

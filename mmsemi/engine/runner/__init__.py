# Copyright (c) mmsemi contributors. All rights reserved.
from .semi_train_loop import SemiIterBasedTrainLoop

__all__ = ['SemiIterBasedTrainLoop']

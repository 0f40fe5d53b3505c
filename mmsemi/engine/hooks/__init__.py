from .dynamic_threshold_hook import DynamicThresholdHook
from .ema_teacher_hook import EMATeacherHook

__all__ = ['EMATeacherHook', 'DynamicThresholdHook']

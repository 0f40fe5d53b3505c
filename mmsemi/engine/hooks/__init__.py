from .check_dataset_labels_hook import CheckDatasetLabelsHook
from .dynamic_threshold_hook import DynamicThresholdHook
from .ema_teacher_hook import EMATeacherHook
from .finite_loss_hook import FiniteLossHook
from .pseudo_label_visualization_hook import PseudoLabelVisualizationHook

__all__ = [
    'EMATeacherHook', 'DynamicThresholdHook', 'CheckDatasetLabelsHook',
    'FiniteLossHook', 'PseudoLabelVisualizationHook'
]

from .correlation_head import CorrelationHead
from .semi_deeplabv3plus_head import SemiDeepLabV3PlusHead

__all__ = ['SemiDeepLabV3PlusHead', 'CorrelationHead']

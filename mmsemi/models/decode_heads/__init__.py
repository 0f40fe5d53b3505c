from .correlation_head import CorrelationHead
from .projection_head import ProjectionHead
from .semi_deeplabv3plus_head import SemiDeepLabV3PlusHead

__all__ = ['SemiDeepLabV3PlusHead', 'CorrelationHead', 'ProjectionHead']

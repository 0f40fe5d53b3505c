from .correlation_head import CorrelationHead
from .projection_head import ProjectionHead
from .semi_deeplabv3plus_head import SemiDeepLabV3PlusHead
from .unimatch_v2_dpt_head import UniMatchV2DPTHead

__all__ = ['SemiDeepLabV3PlusHead', 'CorrelationHead', 'ProjectionHead',
           'UniMatchV2DPTHead']

from .corrmatch import CorrMatch
from .css import CSS
from .rankmatch import RankMatch
from .semi_base import SemiBaseSegmentor
from .u2pl import U2PL
from .unimatch import UniMatch
from .unimatch_v2 import UniMatchV2

__all__ = [
    'SemiBaseSegmentor', 'UniMatch', 'CorrMatch', 'U2PL', 'CSS', 'RankMatch',
    'UniMatchV2'
]

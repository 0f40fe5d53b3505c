from .corrmatch import CorrMatch
from .semi_base import SemiBaseSegmentor
from .unimatch import UniMatch

__all__ = ['SemiBaseSegmentor', 'UniMatch', 'CorrMatch']

from .semi_base import SemiBaseSegmentor
from .unimatch import UniMatch

__all__ = ['SemiBaseSegmentor', 'UniMatch']

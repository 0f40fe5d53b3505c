# U2PL wrapping mmseg's PSPNet (PSPHead + FCN auxiliary head), ResNet-101-D8,
# on Pascal VOC 2012 aug, U2PL's blended split 1/16, crop 513; the method's
# official recipe (configs/_base_/semi/semi_u2pl_voc12aug.py), the stock model,
# validation and test settings.
_base_ = [
    'mmseg::pspnet/pspnet_r101-d8_4xb4-40k_voc12aug-512x512.py',
    'mmsemi::_base_/semi/semi_u2pl_voc12aug.py',
]
from mmsemi.utils.semi_config import stock_semi_method  # noqa: E402

# The stock segmentor (training batches padded to the method's crop) with
# the method's data, length, recipe and hooks (mmsemi's label check, NaN
# guard and pseudo-label pictures merged into the stock default_hooks).
globals().update(stock_semi_method(_base_))

# UniMatch wrapping mmseg's SegFormer (SegformerHead), MiT-B5, on Cityscapes,
# split 1/16, crop 801; the method's thresholds, losses, batch, crop and length
# (configs/_base_/semi/semi_unimatch_cityscapes.py), the stock model,
# validation and test settings. SegFormer keeps its stock optimiser (AdamW, lr
# 6e-5, 10x on the heads) and warm-up: the methods' SGD recipe is for ResNets.
_base_ = [
    'mmseg::segformer/segformer_mit-b5_8xb1-160k_cityscapes-1024x1024.py',
    'mmsemi::_base_/semi/semi_unimatch_cityscapes.py',
]
from mmsemi.utils.semi_config import stock_semi_method  # noqa: E402

# The stock segmentor (training batches padded to the method's crop) with
# the method's data, length, recipe and hooks (mmsemi's label check, NaN
# guard and pseudo-label pictures merged into the stock default_hooks).
globals().update(stock_semi_method(_base_, stock_schedule=True))

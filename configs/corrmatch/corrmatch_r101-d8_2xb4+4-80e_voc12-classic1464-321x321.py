# CorrMatch, VOC classic split 1464, crop 321x321: the crop-513 config with
# the crop and the batch changed.
# 80 epochs over the 9118 unlabeled images with 2 GPUs x (4 labeled +
# 4 unlabeled): 1139 iterations per epoch, 91120 in total.
# Batch: the official VOC config sets 4 labeled + 4 unlabeled per GPU and
# the official script trains VOC-321 on 2 GPUs (spec D12; the paper says
# "batch size 16").
_base_ = ['./corrmatch_r101-d8_4xb2+2-80e_voc12-classic1464-513x513.py']
from mmsemi.datasets.semi_pipelines import semi_train_data  # noqa: E402

crop_size = (321, 321)
globals().update(semi_train_data(_base_, crop_size=crop_size, batch_size=8))
data_preprocessor = dict(size=crop_size)
segmentor = dict(data_preprocessor=data_preprocessor)
model = dict(segmentor=segmentor,
             data_preprocessor=dict(data_preprocessor=data_preprocessor))
train_cfg = dict(max_iters=91120, val_interval=5695)
default_hooks = dict(checkpoint=dict(interval=5695))

# UniMatch V2, DINOv2-L, VOC classic split 732, crop 518x518.
# 60 epochs over the 9850 unlabeled images with 4 GPUs x (4 labeled +
# 4 unlabeled): 615 iterations per epoch, 36900 in total.
_base_ = ['./unimatch-v2_dinov2-l-dpt_4xb4+4-60e_voc12-classic1464-518x518.py']
from mmsemi.datasets.semi_pipelines import split_train_dataloader  # noqa: E402

train_dataloader = split_train_dataloader(_base_, '../../splits/pascal/732')
train_cfg = dict(max_iters=36900, val_interval=615)

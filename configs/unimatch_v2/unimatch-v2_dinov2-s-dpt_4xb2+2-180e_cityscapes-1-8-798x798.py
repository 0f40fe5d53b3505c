# UniMatch V2, Cityscapes split 1/8, crop 798x798: the recipe of
# ../_base_/recipes/unimatch_v2_cityscapes.py on DINOv2-S + its DPT head, the
# VOC config with this model, dataset and recipe (with_bases).
# 180 epochs over the 2603 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 325 iterations per epoch, 58500 in total; the
# student and the EMA teacher are validated every epoch (the best
# teacher is kept).
_base_ = ['./unimatch-v2_dinov2-s-dpt_4xb4+4-60e_voc12-classic1464-518x518.py']
from mmsemi.utils.semi_config import with_bases  # noqa: E402

globals().update(with_bases(_base_, 'dinov2-s_dpt.py', 'semi_cityscapes_798x798.py',
                            'unimatch_v2_cityscapes.py', '../splits/cityscapes/1_8', 4))
train_cfg = dict(max_iters=58500, val_interval=325)

# UniMatch V2, COCO split 1/32, crop 518x518: the recipe of
# ../_base_/recipes/unimatch_v2_voc12.py on DINOv2-B + its DPT head, the
# VOC config with this model, dataset and recipe (with_bases).
# 20 epochs over the 114590 unlabeled images with 4 GPUs x (4 labeled +
# 4 unlabeled): 7162 iterations per epoch, 143240 in total; the
# student and the EMA teacher are validated every epoch (the best
# teacher is kept).
_base_ = ['./unimatch-v2_dinov2-s-dpt_4xb4+4-60e_voc12-classic1464-518x518.py']
from mmsemi.utils.semi_config import with_bases  # noqa: E402

globals().update(with_bases(_base_, 'dinov2-b_dpt.py', 'semi_coco_518x518.py',
                            'unimatch_v2_voc12.py', '../splits/coco/1_32', 8))
train_cfg = dict(max_iters=143240, val_interval=7162)

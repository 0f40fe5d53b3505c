# UniMatch V2, ADE20K split 1/16, crop 518x518: the recipe of
# ../_base_/recipes/unimatch_v2_ade20k.py on DINOv2-B + its DPT head, the
# VOC config with this model, dataset and recipe (with_bases).
# 60 epochs over the 18947 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 2368 iterations per epoch, 142080 in total; the
# student and the EMA teacher are validated every epoch (the best
# teacher is kept).
_base_ = ['./unimatch-v2_dinov2-s-dpt_4xb4+4-60e_voc12-classic1464-518x518.py']
from mmsemi.utils.semi_config import with_bases  # noqa: E402

globals().update(with_bases(_base_, 'dinov2-b_dpt.py', 'semi_ade20k_518x518.py',
                            'unimatch_v2_ade20k.py', '../../splits/ade20k/1_16', 4))
train_cfg = dict(max_iters=142080, val_interval=2368)

# UniMatch, VOC classic split 1464, crop 321x321: the crop-513 config with
# the crop and the split changed.
# 80 epochs over the 9118 unlabeled images with 4 GPUs x (2 labeled +
# 2 unlabeled): 1140 iterations per epoch, 91200 in total.
_base_ = ['./unimatch_r101-d16_4xb2+2-80e_voc12-blended1-16-513x513.py']
from mmsemi.datasets.semi_pipelines import semi_train_data  # noqa: E402

crop_size = (321, 321)
globals().update(semi_train_data(_base_, crop_size=crop_size))
data_preprocessor = dict(size=crop_size)
segmentor = dict(data_preprocessor=data_preprocessor)
model = dict(segmentor=segmentor,
             data_preprocessor=dict(data_preprocessor=data_preprocessor))
train_dataloader = dict(dataset=dict(datasets=[
    dict(labeled_dataset,  # noqa: F821
         split_file='../../splits/pascal/1464/labeled.txt'),
    dict(unlabeled_dataset,  # noqa: F821
         split_file='../../splits/pascal/1464/unlabeled.txt'),
]))
train_cfg = dict(max_iters=91200, val_interval=5700)
default_hooks = dict(checkpoint=dict(interval=5700))

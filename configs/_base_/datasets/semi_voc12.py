# Pascal VOC 2012, semi-supervised: everything but the crop. The training
# pipelines, the datasets that hold them and the train dataloader depend on
# the crop and are built by mmsemi.datasets.semi_pipelines.semi_train_data
# in semi_voc12_<crop>.py (or in a method config that changes the branches).
# Layouts: mmseg's, data/VOCdevkit/VOC2012/{JPEGImages,SegmentationClass,
# SegmentationClassAug} (fine train and val masks in SegmentationClass, SBD
# masks in SegmentationClassAug; a labeled image takes its fine mask when it
# has one), or UniMatch's merged one, where SegmentationClass holds the
# 10,582 "aug" masks (the 1,464 fine masks kept as they are) and the 1,449
# val masks. Split files are mmseg ann files
# (one basename per line) in data/splits/pascal/<split>/; import the official
# ones with tools/dataset_converters/import_splits.py or draw new ones with
# tools/misc/split_dataset.py.
_base_ = ['./semi_common.py']
dataset_type = 'SemiPascalVOCDataset'
data_root = 'data/VOCdevkit/VOC2012'
num_classes = 21
data_prefix = dict(img_path='JPEGImages', seg_map_path='SegmentationClass')
labeled_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=data_prefix,
    seg_map_fallback='SegmentationClassAug',
    split_file='../../splits/pascal/1464/labeled.txt')
unlabeled_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=data_prefix,
    split_file='../../splits/pascal/1464/unlabeled.txt',
    with_label=False)
# Linear lr scaling (`tools/train.py --auto-scale-lr`): the lr of the
# recipes on this base is for 16 images per iteration, labeled + unlabeled
# (4 GPUs x (2 + 2); CorrMatch at crop 321: 2 GPUs x (4 + 4)), the batch
# as mmengine counts it: train_dataloader.batch_size x number of
# processes. Configs with another recipe batch set their own.
auto_scale_lr = dict(enable=False, base_batch_size=16)
val_dataloader = dict(dataset=dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=data_prefix,
    split_file='ImageSets/Segmentation/val.txt'))
test_dataloader = val_dataloader

# Semi-supervised data on mmseg's Pascal VOC 2012 "aug" layout, for configs
# that inherit a full stock mmseg config (see configs/stock/README.md).
# Every key starts with `semi_` or is `custom_imports`, keys no stock mmseg
# config defines, so this file can be listed next to a stock config in
# `_base_` (mmengine refuses a key that two bases both define).
#
# Layout (mmseg's, made by mmseg's tools/dataset_converters/voc_aug.py):
# data/VOCdevkit/VOC2012/{JPEGImages,SegmentationClass,SegmentationClassAug}
# with the 1,464 train and 1,449 val fine masks in SegmentationClass and the
# SBD masks in SegmentationClassAug. A labeled image takes its fine mask
# when it has one, else its SBD mask (what UniMatch's merged
# SegmentationClass folder holds); UniMatch's merged folder works as well.
# Split files: data/splits/pascal/<split>/{labeled,unlabeled}.txt (README,
# "Data preparation").
_base_ = ['./semi_default_hooks.py']
custom_imports = dict(imports=['mmsemi'], allow_failed_imports=False)
semi_dataset_type = 'SemiPascalVOCDataset'
semi_data_root = 'data/VOCdevkit/VOC2012'
semi_data_prefix = dict(
    img_path='JPEGImages', seg_map_path='SegmentationClass')
semi_seg_map_fallback = 'SegmentationClassAug'
# relative to semi_data_root
semi_split_root = '../../splits/pascal'
semi_num_classes = 21
# Photometric strong augmentation with UniMatch's parameters (CorrMatch
# uses the same).
semi_strong_pipeline = [
    dict(type='StrongColorJitter', brightness=0.5, contrast=0.5,
         saturation=0.5, hue=0.25, prob=0.8),
    dict(type='StrongRandomGrayscale', prob=0.2),
    dict(type='StrongGaussianBlur', sigma=(0.1, 2.0), prob=0.5),
    dict(type='PackSemiSegInputs'),
]

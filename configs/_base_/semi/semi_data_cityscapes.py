# Semi-supervised data on mmseg's Cityscapes layout, for configs that
# inherit a full stock mmseg config (see configs/stock/README.md). Every key
# starts with `semi_` or is `custom_imports`, keys no stock mmseg config
# defines, so this file can be listed next to a stock config in `_base_`.
#
# Layout (mmseg's): data/cityscapes/{leftImg8bit,gtFine}/{train,val}/<city>/
# with *_gtFine_labelTrainIds.png from mmseg's
# tools/dataset_converters/cityscapes.py. Split files (`<city>/<id>` per
# line): data/splits/cityscapes/<split>/ and data/splits/cityscapes_u2pl/.
_base_ = ['./semi_default_hooks.py']
custom_imports = dict(imports=['mmsemi'], allow_failed_imports=False)
semi_dataset_type = 'SemiCityscapesDataset'
semi_data_root = 'data/cityscapes'
semi_data_prefix = dict(
    img_path='leftImg8bit/train', seg_map_path='gtFine/train')
semi_seg_map_fallback = None
# relative to semi_data_root
semi_split_root = '../splits'
semi_num_classes = 19
semi_strong_pipeline = [
    dict(type='StrongColorJitter', brightness=0.5, contrast=0.5,
         saturation=0.5, hue=0.25, prob=0.8),
    dict(type='StrongRandomGrayscale', prob=0.2),
    dict(type='StrongGaussianBlur', sigma=(0.1, 2.0), prob=0.5),
    dict(type='PackSemiSegInputs'),
]

# COCO 2017 with UniMatch's 81-class semantic masks (background + 80
# objects), semi-supervised: everything but the crop (see semi_voc12.py).
# Layout (UniMatch's): data/coco/{train2017,val2017}/%012d.jpg and the masks
# data/coco/masks/%012d.png (0 background, 255 not annotated). Split files
# in data/splits/coco/<split>/: UniMatch's lists as they are, or converted
# to names with tools/dataset_converters/import_splits.py.
_base_ = ['./semi_common.py']
from mmsemi.datasets.semi_pipelines import semi_dataset_keys  # noqa: E402

num_classes = 81
globals().update(semi_dataset_keys(
    'SemiCOCODataset', 'data/coco',
    data_prefix=dict(img_path='train2017', seg_map_path='masks'),
    val_prefix=dict(img_path='val2017', seg_map_path='masks'),
    split_dir='../splits/coco/1_32'))

# COCO 2017 with UniMatch's 81-class semantic masks (background + 80
# objects), semi-supervised: everything but the crop (see semi_voc12.py).
# Layout (UniMatch's): data/coco/{train2017,val2017}/%012d.jpg and the masks
# data/coco/masks/%012d.png (0 background, 255 not annotated). Split files
# in data/splits/coco/<split>/: UniMatch's lists as they are, or converted
# to names with tools/dataset_converters/import_splits.py.
_base_ = ['./semi_common.py']
dataset_type = 'SemiCOCODataset'
data_root = 'data/coco'
num_classes = 81
data_prefix = dict(img_path='train2017', seg_map_path='masks')
labeled_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=data_prefix,
    split_file='../splits/coco/1_32/labeled.txt')
unlabeled_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=data_prefix,
    split_file='../splits/coco/1_32/unlabeled.txt',
    with_label=False)
val_dataloader = dict(dataset=dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=dict(img_path='val2017', seg_map_path='masks'),
    split_file=''))
test_dataloader = val_dataloader

# ADE20K (SceneParsing, 150 classes), semi-supervised: everything but the
# crop (see semi_voc12.py). Layout (mmseg's):
# data/ade/ADEChallengeData2016/{images,annotations}/{training,validation}/
# ADE_*_%08d.{jpg,png}; label 0 ("other") is ignored (reduce_zero_label).
# Split files in data/splits/ade20k/<split>/: UniMatch V2's lists as they
# are, or converted to names with tools/dataset_converters/import_splits.py.
_base_ = ['./semi_common.py']
dataset_type = 'SemiADE20KDataset'
data_root = 'data/ade/ADEChallengeData2016'
num_classes = 150
data_prefix = dict(img_path='images/training',
                   seg_map_path='annotations/training')
labeled_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=data_prefix,
    split_file='../../splits/ade20k/1_16/labeled.txt')
unlabeled_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=data_prefix,
    split_file='../../splits/ade20k/1_16/unlabeled.txt',
    with_label=False)
val_dataloader = dict(dataset=dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=dict(img_path='images/validation',
                     seg_map_path='annotations/validation'),
    split_file=''))
test_dataloader = val_dataloader

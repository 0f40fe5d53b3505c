# ADE20K (SceneParsing, 150 classes), semi-supervised: everything but the
# crop (see semi_voc12.py). Layout (mmseg's):
# data/ade/ADEChallengeData2016/{images,annotations}/{training,validation}/
# ADE_*_%08d.{jpg,png}; label 0 ("other") is ignored (reduce_zero_label).
# Split files in data/splits/ade20k/<split>/: UniMatch V2's lists as they
# are, or converted to names with tools/dataset_converters/import_splits.py.
_base_ = ['./semi_common.py']
from mmsemi.datasets.semi_pipelines import semi_dataset_keys  # noqa: E402

num_classes = 150
globals().update(semi_dataset_keys(
    'SemiADE20KDataset', 'data/ade/ADEChallengeData2016',
    data_prefix=dict(img_path='images/training',
                     seg_map_path='annotations/training'),
    val_prefix=dict(img_path='images/validation',
                    seg_map_path='annotations/validation'),
    split_dir='../../splits/ade20k/1_16'))

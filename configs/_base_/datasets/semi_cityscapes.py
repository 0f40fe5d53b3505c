# Cityscapes, semi-supervised: everything but the crop. The training
# pipelines, the datasets that hold them and the train dataloader depend on
# the crop and are built by mmsemi.datasets.semi_pipelines.semi_train_data
# in semi_cityscapes_<crop>.py (or in a method config that changes the
# branches).
# Layout (mmseg's): data/cityscapes/{leftImg8bit,gtFine}/{train,val}/<city>/,
# labels converted to *_gtFine_labelTrainIds.png with mmseg's
# tools/dataset_converters/cityscapes.py. Split files are mmseg ann files
# (`<city>/<id>` per line) in data/splits/cityscapes/<split>/.
_base_ = ['./semi_common.py']
dataset_type = 'SemiCityscapesDataset'
data_root = 'data/cityscapes'
num_classes = 19
data_prefix = dict(img_path='leftImg8bit/train', seg_map_path='gtFine/train')
labeled_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=data_prefix,
    split_file='../splits/cityscapes/1_8/labeled.txt')
unlabeled_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=data_prefix,
    split_file='../splits/cityscapes/1_8/unlabeled.txt',
    with_label=False)
# Linear lr scaling (`tools/train.py --auto-scale-lr`): the lr of the
# recipes on this base is for 16 images per iteration, labeled + unlabeled
# (4 GPUs x (2 + 2)), the batch as mmengine counts it:
# train_dataloader.batch_size x number of processes. Configs with another
# recipe batch set their own.
auto_scale_lr = dict(enable=False, base_batch_size=16)
val_dataloader = dict(dataset=dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=dict(img_path='leftImg8bit/val', seg_map_path='gtFine/val'),
    split_file=''))
test_dataloader = val_dataloader

"""Mini datasets in the real layouts: the stock mmseg datasets read them."""
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmseg.registry import DATASETS
from mmseg.utils import register_all_modules

from mmsemi.datasets.mini_layouts import (LAYOUTS, voc_names,
                                          write_mini_datasets)
from mmsemi.datasets.splits import read_names

register_all_modules(init_default_scope=False)


def _build(cfg):
    dataset = DATASETS.build(dict(cfg, pipeline=[]))
    assert len(dataset) > 0
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        assert osp.isfile(info['img_path']), info
        assert osp.isfile(info['seg_map_path']), info
    return dataset


def test_voc_mmseg_layout(tmp_path):
    root = write_mini_datasets(str(tmp_path), ['voc_mmseg'])['voc_mmseg']
    names = voc_names()
    val = _build(dict(type='PascalVOCDataset', data_root=root,
                      data_prefix=dict(img_path='JPEGImages',
                                       seg_map_path='SegmentationClass'),
                      ann_file='ImageSets/Segmentation/val.txt'))
    assert len(val) == len(names['val'])
    fine = Image.open(osp.join(root, 'SegmentationClass',
                               names['train'][0] + '.png'))
    assert fine.mode == 'P'  # VOC's palette PNGs
    # SBD masks only for SBD images; fine masks only for train/val
    aug = osp.join(root, 'SegmentationClassAug')
    assert sorted(n[:-4] for n in os.listdir(aug)) == \
        sorted(names['sbd'])
    only_fine = set(names['train']) - set(names['sbd'])
    assert only_fine and not any(
        osp.exists(osp.join(aug, n + '.png')) for n in only_fine)
    # blended splits label SBD-only images; classic ones fine images
    splits = osp.join(tmp_path, 'splits', 'pascal')
    blended = read_names(osp.join(splits, '1_16', 'labeled.txt'))
    classic = read_names(osp.join(splits, '92', 'labeled.txt'))
    assert not set(blended) & set(names['train'])
    assert set(classic) <= set(names['train'])
    unlabeled = read_names(osp.join(splits, '1_16', 'unlabeled.txt'))
    assert sorted(blended + unlabeled) == names['aug']


def test_voc_merged_layout_has_every_mask_in_one_folder(tmp_path):
    root = write_mini_datasets(str(tmp_path), ['voc_merged'])['voc_merged']
    names = voc_names()
    assert not osp.exists(osp.join(root, 'SegmentationClassAug'))
    for name in names['aug'] + names['val']:
        assert osp.isfile(osp.join(root, 'SegmentationClass', name + '.png'))


def test_cityscapes_ade20k_coco_stuff_read_by_stock_datasets(tmp_path):
    roots = write_mini_datasets(str(tmp_path),
                                ['cityscapes', 'ade20k', 'coco_stuff'])
    cityscapes = _build(dict(
        type='CityscapesDataset', data_root=roots['cityscapes'],
        data_prefix=dict(img_path='leftImg8bit/val',
                         seg_map_path='gtFine/val')))
    assert len(cityscapes) == 2
    ade = _build(dict(
        type='ADE20KDataset', data_root=roots['ade20k'],
        data_prefix=dict(img_path='images/validation',
                         seg_map_path='annotations/validation')))
    label = np.array(Image.open(ade.get_data_info(0)['seg_map_path']))
    assert label.max() <= 150  # 0 = other, reduced to 255 by mmseg
    coco = _build(dict(
        type='COCOStuffDataset', data_root=roots['coco_stuff'],
        data_prefix=dict(img_path='images/val2017',
                         seg_map_path='annotations/val2017')))
    assert len(coco) == 2
    for family in ('cityscapes', 'cityscapes_u2pl', 'ade20k', 'coco_stuff'):
        assert osp.isdir(osp.join(tmp_path, 'splits', family))


def test_both_voc_layouts_in_one_root_are_refused(tmp_path):
    with pytest.raises(ValueError, match='two roots'):
        write_mini_datasets(str(tmp_path), ['voc_mmseg', 'voc_merged'])
    with pytest.raises(ValueError, match='unknown layout'):
        write_mini_datasets(str(tmp_path), ['pascal'])
    assert set(LAYOUTS) >= {'voc_mmseg', 'voc_merged', 'cityscapes',
                            'ade20k', 'coco_stuff'}


def _loaded_label(dataset, index, reduce_zero_label):
    from mmseg.datasets.transforms import LoadAnnotations
    results = LoadAnnotations(reduce_zero_label=reduce_zero_label)(
        dict(dataset.get_data_info(index)))
    return results['gt_seg_map']


@pytest.mark.parametrize('entries', ['names', 'unimatch_lines'])
def test_semi_ade20k_and_coco_read_both_split_formats(tmp_path, entries):
    """Names (what tools/dataset_converters/import_splits.py writes) and
    UniMatch V2's own ``image label`` lines name the same files; ADE20K's
    "other" (0) becomes the ignore index, COCO's labels are 0-80."""
    roots = write_mini_datasets(str(tmp_path), ['ade20k', 'coco'])
    names = read_names(str(tmp_path / 'splits' / 'ade20k' / '1_16' /
                           'labeled.txt'))
    coco_names = read_names(str(tmp_path / 'splits' / 'coco' / '1_32' /
                                'labeled.txt'))
    if entries == 'unimatch_lines':
        ade_lines = [f'images/training/{n}.jpg annotations/training/{n}.png'
                     for n in names]
        coco_lines = [f'train2017/{n}.jpg masks/{n}.png' for n in coco_names]
    else:
        ade_lines, coco_lines = names, coco_names
    (tmp_path / 'ade.txt').write_text('\n'.join(ade_lines) + '\n')
    (tmp_path / 'coco.txt').write_text('\n'.join(coco_lines) + '\n')

    ade = _build(dict(
        type='SemiADE20KDataset', data_root=roots['ade20k'],
        split_file=str(tmp_path / 'ade.txt'),
        data_prefix=dict(img_path='images/training',
                         seg_map_path='annotations/training')))
    assert [osp.basename(ade.get_data_info(i)['img_path'])
            for i in range(len(ade))] == [n + '.jpg' for n in names]
    assert len(ade.metainfo['classes']) == 150
    raw = np.array(Image.open(ade.get_data_info(0)['seg_map_path']))
    # LoadAnnotations() takes reduce_zero_label from the dataset
    reduced = _loaded_label(ade, 0, reduce_zero_label=None)
    assert (reduced[raw == 0] == 255).all()
    assert np.array_equal(reduced[raw > 0], raw[raw > 0] - 1)

    coco = _build(dict(
        type='SemiCOCODataset', data_root=roots['coco'],
        split_file=str(tmp_path / 'coco.txt'),
        data_prefix=dict(img_path='train2017', seg_map_path='masks')))
    assert len(coco) == len(coco_names)
    assert len(coco.metainfo['classes']) == 81
    label = _loaded_label(coco, 0, reduce_zero_label=False)
    assert set(np.unique(label)) <= set(range(81)) | {255}

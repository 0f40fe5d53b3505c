# Copyright (c) mmsemi contributors. All rights reserved.
"""Mini datasets in the real on-disk layouts, for end-to-end runs of the
shipped configs (``tools/misc/generate_mini_datasets.py``, the user-route
test).

Each writer puts a few images with real-looking names exactly where the
layout's documentation puts them, with label files in the real formats
(palette PNGs for VOC's fine masks, grey PNGs for SBD, Cityscapes train ids,
ADE20K's 0-150 with 0 = "other", COCO-Stuff's 0-170 train ids), and writes
the split files the shipped configs read (``<root>/splits/...``, mmseg ann
files as ``tools/misc/split_dataset.py`` writes them). Image content is
random: these datasets exercise paths, formats and the training route, not
accuracy.

Layouts (``root`` is the folder that holds ``VOCdevkit``, ``cityscapes``,
``ade``, ``coco_stuff164k``, ``coco`` and ``splits``, i.e. ``data/``):

* ``voc_mmseg``: ``VOCdevkit/VOC2012/{JPEGImages, SegmentationClass (the
  fine train and val masks), SegmentationClassAug (the SBD masks),
  ImageSets/Segmentation/{train,val,trainval,aug}.txt}``, what mmseg's
  ``voc_aug.py`` converter leaves. Some aug images have only an SBD mask,
  some only a fine one, some both.
* ``voc_merged``: UniMatch's layout, ``SegmentationClass`` holding every aug
  and val mask (the fine mask where there is one).
* ``cityscapes``: ``cityscapes/{leftImg8bit,gtFine}/{train,val}/<city>/`` with
  ``*_leftImg8bit.png`` and ``*_gtFine_labelTrainIds.png``.
* ``ade20k``: ``ade/ADEChallengeData2016/{images,annotations}/{training,
  validation}/ADE_{train,val}_%08d.{jpg,png}``.
* ``coco_stuff``: ``coco_stuff164k/{images,annotations}/{train2017,val2017}/
  %012d.jpg`` and ``%012d_labelTrainIds.png``.
* ``coco``: UniMatch's COCO, ``coco/{train2017,val2017}/%012d.jpg`` and the
  81-class semantic masks ``coco/masks/%012d.png`` (0 background, 255 not
  annotated).
"""
import os
import os.path as osp
from typing import Dict, Iterable, List, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image

from .splits import write_split_dir

LAYOUTS = ('voc_mmseg', 'voc_merged', 'cityscapes', 'ade20k', 'coco_stuff',
           'coco')

#: Split directories the shipped configs read, per split family.
VOC_CLASSIC_SPLITS = ('92', '183', '366', '732', '1464', 'u2pl_92',
                      'u2pl_183', 'u2pl_366', 'u2pl_732', 'u2pl_1464')
VOC_BLENDED_SPLITS = ('1_16', '1_8', '1_4', '1_2', 'u2pl_1_16', 'u2pl_1_8',
                      'u2pl_1_4', 'u2pl_1_2')
CITYSCAPES_SPLITS = {
    'cityscapes': ('1_16', '1_8', '1_4', '1_2'),
    'cityscapes_u2pl': ('186', '372', '744', '1488'),
}
FRACTION_SPLITS = ('1_512', '1_256', '1_128', '1_64', '1_32', '1_16', '1_8')


def _voc_palette() -> List[int]:
    """Pascal VOC's colour map (the palette of its label PNGs)."""
    palette = []
    for index in range(256):
        r = g = b = 0
        c = index
        for bit in range(8):
            r |= ((c >> 0) & 1) << (7 - bit)
            g |= ((c >> 1) & 1) << (7 - bit)
            b |= ((c >> 2) & 1) << (7 - bit)
            c >>= 3
        palette += [r, g, b]
    return palette


def _random_label(rng: np.random.Generator, size: Tuple[int, int],
                  num_classes: int, ignore: int = 255,
                  first_class: int = 0) -> np.ndarray:
    """Background plus two rectangles of random classes, and a one-pixel
    ``ignore`` border around the first one (as VOC's object outlines)."""
    h, w = size
    label = np.full((h, w), first_class, np.uint8)
    for k in range(2):
        y0, x0 = rng.integers(0, h // 2), rng.integers(0, w // 2)
        y1 = int(y0 + rng.integers(h // 4, h // 2))
        x1 = int(x0 + rng.integers(w // 4, w // 2))
        label[y0:y1, x0:x1] = rng.integers(first_class, num_classes)
        if k == 0 and ignore is not None:
            label[y0, x0:x1] = label[y1 - 1, x0:x1] = ignore
            label[y0:y1, x0] = label[y0:y1, x1 - 1] = ignore
    return label


def _image_for(label: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An RGB image whose colour follows the label, plus noise."""
    colours = rng.integers(0, 256, (256, 3), dtype=np.uint8)
    noise = rng.integers(-20, 21, label.shape + (3, ))
    return np.clip(colours[label].astype(int) + noise, 0, 255).astype(
        np.uint8)


def _write_image(path: str, image: np.ndarray) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    cv2.imwrite(path, image[..., ::-1])


def _write_label(path: str, label: np.ndarray, palette: bool = False) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    img = Image.fromarray(label, mode='P' if palette else 'L')
    if palette:
        img.putpalette(_voc_palette())
    img.save(path)


def _write_list(path: str, names: Iterable[str]) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(''.join(f'{n}\n' for n in names))


def _write_splits(split_root: str, split_names: Sequence[str],
                  labeled_pool: Sequence[str], all_train: Sequence[str],
                  num_labeled: int) -> None:
    """Each split: the first ``num_labeled`` of ``labeled_pool`` labeled,
    the other train images unlabeled."""
    labeled = list(labeled_pool[:num_labeled])
    unlabeled = [n for n in all_train if n not in labeled]
    for split in split_names:
        write_split_dir(osp.join(split_root, split), labeled, unlabeled,
                        seed=None, source='mmsemi mini dataset')


class _Writer:
    """Shared state of one generated dataset: random stream and size."""

    def __init__(self, seed: int, size: Tuple[int, int]) -> None:
        self.rng = np.random.default_rng(seed)
        self.size = size

    def sample(self, num_classes: int, first_class: int = 0,
               ignore: int = 255) -> Tuple[np.ndarray, np.ndarray]:
        label = _random_label(self.rng, self.size, num_classes, ignore,
                              first_class)
        return _image_for(label, self.rng), label


def voc_names() -> Dict[str, List[str]]:
    """Real-looking VOC names: ``val``, fine ``train`` and ``sbd`` (which
    overlaps ``train`` in two names), and ``aug`` = (train | sbd) - val."""
    train = ['2007_000032', '2007_000039', '2008_000008', '2009_000012']
    sbd = ['2007_000039', '2008_000008', '2008_001034', '2010_000002',
           '2011_000003', '2011_000006']
    val = ['2007_000033', '2009_000021']
    aug = sorted(set(train) | set(sbd))
    return dict(train=train, val=val, sbd=sbd, aug=aug)


def write_voc(root: str, merged: bool = False, seed: int = 0,
              size: Tuple[int, int] = (75, 100)) -> str:
    """Pascal VOC 2012 aug in mmseg's layout (``merged=False``) or
    UniMatch's merged one; returns the data root
    ``<root>/VOCdevkit/VOC2012``."""
    names = voc_names()
    voc = osp.join(root, 'VOCdevkit', 'VOC2012')
    writer = _Writer(seed, size)
    fine = set(names['train']) | set(names['val'])
    for name in sorted(set(names['aug']) | set(names['val'])):
        image, label = writer.sample(21)
        _write_image(osp.join(voc, 'JPEGImages', name + '.jpg'), image)
        if merged:
            _write_label(osp.join(voc, 'SegmentationClass', name + '.png'),
                         label, palette=name in fine)
            continue
        if name in fine:
            _write_label(osp.join(voc, 'SegmentationClass', name + '.png'),
                         label, palette=True)
        if name in names['sbd']:
            # SBD's mask of an image with a fine mask differs from it (it
            # has no object outlines); the fine one must win.
            sbd_label = np.where(label == 255, 0, label).astype(np.uint8)
            _write_label(
                osp.join(voc, 'SegmentationClassAug', name + '.png'),
                sbd_label)
    lists = osp.join(voc, 'ImageSets', 'Segmentation')
    _write_list(osp.join(lists, 'train.txt'), names['train'])
    _write_list(osp.join(lists, 'val.txt'), names['val'])
    _write_list(osp.join(lists, 'trainval.txt'),
                names['train'] + names['val'])
    _write_list(osp.join(lists, 'aug.txt'), names['aug'])
    split_root = osp.join(root, 'splits', 'pascal')
    # Classic splits label fine images; blended ones label SBD-only images
    # first (the case a layout without the SBD folder gets wrong).
    _write_splits(split_root, VOC_CLASSIC_SPLITS, names['train'],
                  names['aug'], num_labeled=2)
    sbd_only = [n for n in names['sbd'] if n not in names['train']]
    _write_splits(split_root, VOC_BLENDED_SPLITS, sbd_only, names['aug'],
                  num_labeled=2)
    return voc


def write_cityscapes(root: str, seed: int = 0,
                     size: Tuple[int, int] = (64, 128)) -> str:
    """Cityscapes in mmseg's layout; returns ``<root>/cityscapes``."""
    cs = osp.join(root, 'cityscapes')
    writer = _Writer(seed, size)
    subsets = dict(
        train=['aachen/aachen_000000_000019', 'aachen/aachen_000001_000019',
               'bochum/bochum_000000_000313', 'bochum/bochum_000000_000600',
               'zurich/zurich_000000_000019', 'zurich/zurich_000001_000019'],
        val=['frankfurt/frankfurt_000000_000294',
             'lindau/lindau_000000_000019'])
    for subset, names in subsets.items():
        for name in names:
            image, label = writer.sample(19)
            _write_image(
                osp.join(cs, 'leftImg8bit', subset, name + '_leftImg8bit.png'),
                image)
            _write_label(
                osp.join(cs, 'gtFine', subset,
                         name + '_gtFine_labelTrainIds.png'), label)
        _write_list(osp.join(cs, f'{subset}.txt'), names)
    for family, splits in CITYSCAPES_SPLITS.items():
        _write_splits(
            osp.join(root, 'splits', family), splits, subsets['train'],
            subsets['train'], num_labeled=2)
    return cs


def _write_images_annotations(data_root: str, names: Dict[str, List[str]],
                              label_suffix: str, writer: '_Writer',
                              **sample_args) -> None:
    """``images/<subset>/<name>.jpg`` and
    ``annotations/<subset>/<name><label_suffix>`` (ADE20K, COCO-Stuff)."""
    for subset, subset_names in names.items():
        for name in subset_names:
            image, label = writer.sample(**sample_args)
            _write_image(osp.join(data_root, 'images', subset, name + '.jpg'),
                         image)
            _write_label(
                osp.join(data_root, 'annotations', subset,
                         name + label_suffix), label)


def write_ade20k(root: str, seed: int = 0,
                 size: Tuple[int, int] = (72, 96)) -> str:
    """ADE20K (SceneParsing) in mmseg's layout; returns
    ``<root>/ade/ADEChallengeData2016``."""
    ade = osp.join(root, 'ade', 'ADEChallengeData2016')
    names = dict(training=[f'ADE_train_{i:08d}' for i in (1, 2, 3, 4, 5, 6)],
                 validation=[f'ADE_val_{i:08d}' for i in (1, 2)])
    # 0 is "other" (reduce_zero_label makes it the ignore index).
    _write_images_annotations(ade, names, '.png', _Writer(seed, size),
                              num_classes=151, ignore=None)
    _write_splits(osp.join(root, 'splits', 'ade20k'), FRACTION_SPLITS,
                  names['training'], names['training'], num_labeled=2)
    return ade


def write_coco_stuff(root: str, seed: int = 0,
                     size: Tuple[int, int] = (72, 96)) -> str:
    """COCO-Stuff 164k in mmseg's layout; returns
    ``<root>/coco_stuff164k``."""
    coco = osp.join(root, 'coco_stuff164k')
    names = dict(train2017=[f'{i:012d}' for i in (9, 25, 30, 34, 36, 42)],
                 val2017=[f'{i:012d}' for i in (139, 285)])
    _write_images_annotations(coco, names, '_labelTrainIds.png',
                              _Writer(seed, size), num_classes=171)
    _write_splits(osp.join(root, 'splits', 'coco_stuff'), FRACTION_SPLITS,
                  names['train2017'], names['train2017'], num_labeled=2)
    return coco


def write_coco(root: str, seed: int = 0,
               size: Tuple[int, int] = (72, 96)) -> str:
    """UniMatch's COCO layout (81 classes); returns ``<root>/coco``."""
    coco = osp.join(root, 'coco')
    names = dict(train2017=[f'{i:012d}' for i in (9, 25, 30, 34, 36, 42)],
                 val2017=[f'{i:012d}' for i in (139, 285)])
    writer = _Writer(seed, size)
    for subset, subset_names in names.items():
        for name in subset_names:
            image, label = writer.sample(num_classes=81)
            _write_image(osp.join(coco, subset, name + '.jpg'), image)
            _write_label(osp.join(coco, 'masks', name + '.png'), label)
    _write_splits(osp.join(root, 'splits', 'coco'), FRACTION_SPLITS,
                  names['train2017'], names['train2017'], num_labeled=2)
    return coco


_WRITERS = dict(
    voc_mmseg=lambda root, seed: write_voc(root, merged=False, seed=seed),
    voc_merged=lambda root, seed: write_voc(root, merged=True, seed=seed),
    cityscapes=write_cityscapes,
    ade20k=write_ade20k,
    coco_stuff=write_coco_stuff,
    coco=write_coco)


def write_mini_datasets(root: str, layouts: Sequence[str] = (
        'voc_mmseg', 'cityscapes', 'ade20k', 'coco_stuff', 'coco'),
                        seed: int = 0) -> Dict[str, str]:
    """Write the named layouts below ``root`` (one VOC layout at a time:
    both use ``VOCdevkit``); returns ``{layout: data root}``."""
    unknown = sorted(set(layouts) - set(LAYOUTS))
    if unknown:
        raise ValueError(f'unknown layout(s) {unknown}; known: {LAYOUTS}')
    if {'voc_mmseg', 'voc_merged'} <= set(layouts):
        raise ValueError('voc_mmseg and voc_merged both write '
                         f'{osp.join(root, "VOCdevkit")}; use two roots')
    return {name: _WRITERS[name](root, seed) for name in layouts}

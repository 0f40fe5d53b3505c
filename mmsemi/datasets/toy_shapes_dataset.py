"""Dataset class of the ToyShapes demo data (see toy_shapes.py)."""
from mmseg.registry import DATASETS

from .semi_seg_dataset import SemiSegDataset
from .toy_shapes import (TOY_IMG_SUFFIX, TOY_SEG_MAP_SUFFIX,
                         TOY_SHAPES_CLASSES, TOY_SHAPES_PALETTE)


@DATASETS.register_module()
class ToyShapesDataset(SemiSegDataset):
    """ToyShapes in VOC layout: background plus 6 shape classes.

    Typical arguments: ``data_root='data/toyshapes'``,
    ``data_prefix=dict(img_path='JPEGImages',
    seg_map_path='SegmentationClass')`` and
    ``split_file='splits/1_8/labeled.txt'`` (or
    ``'ImageSets/Segmentation/val.txt'``).
    """
    METAINFO = dict(
        classes=TOY_SHAPES_CLASSES,
        palette=[list(color) for color in TOY_SHAPES_PALETTE])

    def __init__(self,
                 img_suffix: str = TOY_IMG_SUFFIX,
                 seg_map_suffix: str = TOY_SEG_MAP_SUFFIX,
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)

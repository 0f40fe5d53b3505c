"""Pascal VOC and Cityscapes classes for split-file driven semi-supervised
training (the metainfo and file suffixes of mmseg's datasets)."""
from mmseg.datasets import CityscapesDataset, PascalVOCDataset
from mmseg.registry import DATASETS

from .semi_seg_dataset import SemiSegDataset


@DATASETS.register_module()
class SemiPascalVOCDataset(SemiSegDataset):
    """Pascal VOC 2012 (21 classes, ``.jpg`` images, ``.png`` labels)."""
    METAINFO = PascalVOCDataset.METAINFO

    def __init__(self, img_suffix: str = '.jpg',
                 seg_map_suffix: str = '.png', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         **kwargs)


@DATASETS.register_module()
class SemiCityscapesDataset(SemiSegDataset):
    """Cityscapes (19 train ids); split entries are ``<city>/<id>``."""
    METAINFO = CityscapesDataset.METAINFO

    def __init__(self, img_suffix: str = '_leftImg8bit.png',
                 seg_map_suffix: str = '_gtFine_labelTrainIds.png',
                 **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         **kwargs)

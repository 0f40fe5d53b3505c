"""ADE20K and COCO (UniMatch's 81-class semantic masks) for split-file
driven semi-supervised training."""
from mmseg.datasets import ADE20KDataset
from mmseg.registry import DATASETS

from .semi_seg_dataset import SemiSegDataset

#: Background and the 80 COCO object categories, the classes of the COCO
#: masks that UniMatch's code bases train on (0 = background, 255 = not
#: annotated).
COCO_OBJECT_CLASSES = (
    'background', 'person', 'bicycle', 'car', 'motorcycle', 'airplane',
    'bus', 'train', 'truck', 'boat', 'traffic light', 'fire hydrant',
    'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse',
    'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack',
    'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee', 'skis',
    'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove',
    'skateboard', 'surfboard', 'tennis racket', 'bottle', 'wine glass',
    'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich',
    'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake',
    'chair', 'couch', 'potted plant', 'bed', 'dining table', 'toilet', 'tv',
    'laptop', 'mouse', 'remote', 'keyboard', 'cell phone', 'microwave',
    'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase',
    'scissors', 'teddy bear', 'hair drier', 'toothbrush')


def _palette(num: int):
    """A fixed, distinct-enough colour per class (background black)."""
    return [[0, 0, 0]] + [[(37 * i) % 256, (91 * i) % 256, (151 * i) % 256]
                          for i in range(1, num)]


@DATASETS.register_module()
class SemiADE20KDataset(SemiSegDataset):
    """ADE20K SceneParsing (150 classes, label 0 "other" ignored through
    ``reduce_zero_label``); split entries are ``ADE_train_%08d`` names or
    UniMatch's ``images/training/x.jpg annotations/training/x.png``
    lines."""
    METAINFO = ADE20KDataset.METAINFO

    def __init__(self, img_suffix: str = '.jpg', seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = True, **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)


@DATASETS.register_module()
class SemiCOCODataset(SemiSegDataset):
    """COCO 2017 with UniMatch's 81-class semantic masks (background + 80
    objects, built from the instance annotations): images in
    ``train2017``/``val2017``, masks ``masks/<id>.png``; split entries are
    ids or UniMatch's ``train2017/x.jpg masks/x.png`` lines."""
    METAINFO = dict(classes=COCO_OBJECT_CLASSES,
                    palette=_palette(len(COCO_OBJECT_CLASSES)))

    def __init__(self, img_suffix: str = '.jpg', seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         **kwargs)

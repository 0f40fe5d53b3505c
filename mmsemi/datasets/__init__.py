# Copyright (c) mmsemi contributors. All rights reserved.
from .label_check import (DatasetLabelReport, LabelProblem,
                          check_dataset_labels)
from .samplers import LabeledUnlabeledSampler
from .semi_ade20k_coco import (COCO_OBJECT_CLASSES, SemiADE20KDataset,
                               SemiCOCODataset)
from .semi_seg_dataset import SemiSegDataset
from .semi_voc_cityscapes import SemiCityscapesDataset, SemiPascalVOCDataset
from .splits import (SplitEntry, make_split, read_split_file,
                     split_manifest, write_split_file)
from .toy_shapes import (TOY_SHAPES_CLASSES, TOY_SHAPES_PALETTE,
                         generate_toy_shapes)
from .toy_shapes_dataset import ToyShapesDataset
from .transforms import (CheckSegLabel, LoadUnlabeledAnnotations, MultiBranch,
                         PackSemiSegInputs, RandomRelativeResize,
                         StrongColorJitter, StrongGaussianBlur,
                         StrongRandomGrayscale)

__all__ = [
    'SemiSegDataset', 'SemiPascalVOCDataset', 'SemiCityscapesDataset',
    'SemiADE20KDataset', 'SemiCOCODataset', 'COCO_OBJECT_CLASSES',
    'SplitEntry', 'read_split_file', 'write_split_file',
    'make_split', 'split_manifest', 'ToyShapesDataset', 'TOY_SHAPES_CLASSES',
    'TOY_SHAPES_PALETTE', 'generate_toy_shapes',
    'LabeledUnlabeledSampler', 'MultiBranch', 'LoadUnlabeledAnnotations',
    'CheckSegLabel', 'PackSemiSegInputs', 'RandomRelativeResize',
    'StrongColorJitter', 'StrongRandomGrayscale', 'StrongGaussianBlur',
    'check_dataset_labels', 'DatasetLabelReport', 'LabelProblem'
]

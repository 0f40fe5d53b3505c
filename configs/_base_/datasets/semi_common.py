# What the semi-supervised dataset bases (semi_voc12.py, semi_cityscapes.py,
# semi_toyshapes.py) share: UniMatch's photometric strong view, evaluation
# on the original image, the labeled + unlabeled train loader and the val
# and test loaders; a dataset base adds its dataset and split files.
# Photometric strong augmentation with UniMatch's parameters.
strong_pipeline = [
    dict(type='StrongColorJitter', brightness=0.5, contrast=0.5,
         saturation=0.5, hue=0.25, prob=0.8),
    dict(type='StrongRandomGrayscale', prob=0.2),
    dict(type='StrongGaussianBlur', sigma=(0.1, 2.0), prob=0.5),
    dict(type='PackSemiSegInputs'),
]
# Evaluation on the original image (no resizing), as the official code.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
# 2 labeled + 2 unlabeled images per GPU.
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='LabeledUnlabeledSampler', batch_size=4,
                 source_ratio=[1, 1]))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

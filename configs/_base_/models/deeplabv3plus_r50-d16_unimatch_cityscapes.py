_base_ = ['./deeplabv3plus_r101-d16_unimatch_cityscapes.py']
# UniMatch's Cityscapes DeepLabV3+ (OHEM, sliding window) with ResNet-50
# (deep stem, output stride 16); weights as in
# deeplabv3plus_r50-d16_unimatch.py.
model = dict(
    pretrained='data/pretrained/resnet50_deepstem_mmseg.pth',
    backbone=dict(depth=50))

_base_ = ['./deeplabv3plus_r101-d16_unimatch.py']
# UniMatch's DeepLabV3+ with ResNet-50 (deep stem, output stride 16). The
# ImageNet weights are UniMatch's `resnet50.pth`, converted with
# `tools/model_converters/unimatch_resnet_to_mmseg.py`.
model = dict(
    pretrained='data/pretrained/resnet50_deepstem_mmseg.pth',
    backbone=dict(depth=50))

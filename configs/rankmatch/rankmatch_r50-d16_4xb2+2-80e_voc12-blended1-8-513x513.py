# The ResNet-101 config with ResNet-50 (deep stem, output stride 16): the
# converted UniMatch `resnet50.pth` (tools/model_converters/
# unimatch_resnet_to_mmseg.py).
_base_ = ['./rankmatch_r101-d16_4xb2+2-80e_voc12-blended1-8-513x513.py']
model = dict(segmentor=dict(
    pretrained='data/pretrained/resnet50_deepstem_mmseg.pth',
    backbone=dict(depth=50)))

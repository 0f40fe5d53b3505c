# DeepLabV3+ as in CorrMatch (UniMatch's,
# ./deeplabv3plus_r101-d16_unimatch.py, at output stride 8): ResNet-101 with
# a deep stem (3-64-64-128), output stride 8 (strides (1, 2, 1, 1), dilations
# (1, 1, 2, 4) with the first block of each dilated stage at the previous
# dilation), plain ASPP (12, 24, 36), align_corners=True, no classifier
# dropout, no auxiliary head. CorrMatch's correlation branch is not part of
# the segmentor: the `CorrMatch` wrapper builds it (training only) from
# `semi_train_cfg.corr_head` on the last backbone stage.
# The ImageNet weights are UniMatch's `resnet101.pth` (deep stem; not the
# mmseg `open-mmlab://resnet101_v1c` weights, whose stem is 3-32-32-64),
# converted with `tools/model_converters/unimatch_resnet_to_mmseg.py`.
_base_ = ['./deeplabv3plus_r101-d16_unimatch.py']
model = dict(
    backbone=dict(dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1)),
    decode_head=dict(dilations=(1, 12, 24, 36)))

# DeepLabV3+ as in U2PL (spec §2; CorrMatch's,
# ./deeplabv3plus_r101-d8_corrmatch.py, with the differences below):
# ResNet-101 with a deep stem (3-64-64-128), output stride 8 (strides (1, 2,
# 1, 1), dilations (1, 1, 2, 4), the first block of layer3 at dilation 1) and
# multi-grid (1, 2, 4) on layer4 (dilations 4, 8, 16); plain (not separable)
# ASPP (1x1, 12, 24, 36, image pooling); a 256-channel low-level branch
# (U2PL, not the usual 48); Dropout 0.1 before the classifier;
# align_corners=True. U2PL's representation head is not part of the
# segmentor: the `U2PL` wrapper attaches `semi_train_cfg.rep_head`
# (ProjectionHead, 256-d) to the student and the teacher.
# Known layout differences (configs/u2pl/README.md): the ASPP projection is
# mmsemi's 1x1 conv (official: 3x3 + Dropout2d 0.1) and the two fusion convs
# carry no dropout.
# The ImageNet weights are U2PL's `resnet101.pth` (deep stem) converted with
# `tools/model_converters/unimatch_resnet_to_mmseg.py`; mmseg's
# `open-mmlab://resnet101_v1c` (stem 3-32-32-64) is a different model.
_base_ = ['./deeplabv3plus_r101-d8_corrmatch.py']
model = dict(
    backbone=dict(multi_grid=(1, 2, 4)),
    decode_head=dict(c1_channels=256, separable=False, dropout_ratio=0.1))

# DeepLabV3+ as in CSS's SOTA tables (spec §2.1): U2PL's deep-stem
# ResNet-101 re-dilated by the ReCo code to output stride 8 (every 3x3 conv
# of layer3 at dilation 2 and of layer4 at dilation 4: no contraction of
# the first block, no multi-grid); plain ASPP (1x1, 12, 24, 36, image
# pooling) without dropout; a 48-channel low-level branch; align_corners
# True. The representation head is not part of the segmentor: the `CSS`
# wrapper attaches `semi_train_cfg.rep_head` (ProjectionHead 256-256, no
# dropout) to the 304-channel 'fusion_input' point of the head (the
# official classifier and representation heads both read it).
# Known layout difference (configs/css/README.md): mmsemi's head fuses with
# two 3x3 convs before the 1x1 classifier (official: one 3x3 conv).
_base_ = ['./deeplabv3plus_r101-d8_u2pl.py']
model = dict(
    backbone=dict(multi_grid=None, contract_dilation=False),
    decode_head=dict(c1_channels=48, dropout_ratio=0.0))

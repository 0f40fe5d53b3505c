# RankMatch on the embedded demo: UniMatch's toy setting (the slim
# DeepLabV3+ with 4 labeled + 4 unlabeled ToyShapes images per iteration on
# the 1/16 split, same data, batch, optimizer and schedule keys) plus the
# rank loss (the official probability-space computation). Agents come from
# the ASPP output, 10x10 at crop 80 (output stride 8): 32 of its 100 pixels
# (the paper's 128 of 441 at crop 321 is a similar share). (80 - 1) /
# (10 - 1) is not an integer, so the teacher features are CutMix-ed by the
# exact bilinear up-mix-down (mix_features evaluates it on the image pixels
# the downsampling reads), not the strided form.
_base_ = ['./unimatch_r18s_toyshapes-1_16.py']
model = dict(
    type='RankMatch',
    semi_train_cfg=dict(rank_loss=dict(num_agents=32)))

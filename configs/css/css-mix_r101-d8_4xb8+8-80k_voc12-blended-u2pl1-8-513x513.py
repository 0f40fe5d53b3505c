# CSS (mix), VOC blended split 1/8 (1323), crop 513x513; the recipe of
# css-mix_r101-d8_4xb8+8-80k_voc12-classic92-513x513.py.
# lambda_c ramp-down: floor(ceil(N_l / 4) / 8) = 41 iterations per
# labeled epoch, off after 8200 iterations.
_base_ = ['./css-mix_r101-d8_4xb8+8-80k_voc12-classic92-513x513.py']
train_dataloader = dict(dataset=dict(datasets=[
    dict(_base_.labeled_dataset,
         split_file='../../splits/pascal/u2pl_1_8/labeled.txt'),
    dict(_base_.unlabeled_dataset,
         split_file='../../splits/pascal/u2pl_1_8/unlabeled.txt'),
]))

# RankMatch's official recipe on Cityscapes: the UniMatch Cityscapes recipe
# (threshold 0, lr 5e-3 on every parameter) with RankMatch's loss.
_base_ = ['./unimatch_cityscapes.py']
semi_model = dict(type='RankMatch')

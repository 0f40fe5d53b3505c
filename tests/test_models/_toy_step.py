"""Every method's toy config model and a batch of rendered ToyShapes images,
preprocessed as the Runner preprocesses them (for the mixed-precision and
host-synchronisation tests)."""
import os.path as osp
from typing import Dict, List, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from torch import Tensor

from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmsemi.datasets.toy_shapes import render_toy_image

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY_CONFIGS = {
    'UniMatch': 'unimatch_r18s_toyshapes-1_16.py',
    'CorrMatch': 'corrmatch_r18s_toyshapes-1_16.py',
    'RankMatch': 'rankmatch_r18s_toyshapes-1_16.py',
    'U2PL': 'u2pl_r18s_toyshapes-1_16.py',
    'CSS': 'css_r18s_toyshapes-1_16.py',
}
#: Rows at the bottom of every unlabeled image that the preprocessor pads
#: (so the valid masks are not all True).
PAD_ROWS = 8


def toy_config(method: str) -> Config:
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'toy', TOY_CONFIGS[method]))
    if method == 'U2PL':  # the unsupervised terms from the first step
        cfg.model.semi_train_cfg.sup_only_iters = 0
    return cfg


def toy_model(method: str, seed: int = 0) -> Tuple[torch.nn.Module, Config]:
    """The method's toy model in train mode, the backbone initialised from
    the shipped stand-in weights (confident, structured predictions), the
    heads from ``seed``."""
    cfg = toy_config(method)
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    if hasattr(model, 'set_train_schedule'):
        # what SemiIterBasedTrainLoop gives the model: the run's length and
        # the epochs of the toy 1/16 split (125 labeled, 1875 unlabeled
        # images, 4 + 4 per iteration)
        model.set_train_schedule(max_iters=cfg.train_cfg.max_iters,
                                 labeled_epoch=125 // 4,
                                 unlabeled_epoch=1875 // 4)
    model.init_weights()
    model.train()
    return model, cfg


def _bgr_chw(image: np.ndarray) -> Tensor:
    """An RGB ``(H, W, 3)`` uint8 image as the loader gives it: BGR
    ``(3, H, W)`` uint8."""
    return torch.from_numpy(np.ascontiguousarray(image[..., ::-1])).permute(
        2, 0, 1).contiguous()


def _sample(label: np.ndarray) -> SegDataSample:
    height, width = label.shape
    sample = SegDataSample()
    sample.set_metainfo(dict(img_shape=(height, width),
                             ori_shape=(height, width)))
    sample.gt_sem_seg = PixelData(
        data=torch.from_numpy(label.astype(np.int64))[None])
    return sample


def _strong_view(image: np.ndarray) -> np.ndarray:
    """A fixed photometric change (desaturated, darker): a stand-in for
    the random strong augmentation, pixel-aligned with the weak view."""
    gray = image.astype(np.float32).mean(axis=2, keepdims=True)
    mixed = 0.5 * image.astype(np.float32) + 0.5 * gray
    return np.clip(0.8 * mixed, 0, 255).astype(np.uint8)


def toy_batch(model: torch.nn.Module, cfg: Config, num_labeled: int = 4,
              num_unlabeled: int = 4, seed: int = 0
              ) -> Tuple[Dict[str, Tensor], Dict[str, List[SegDataSample]]]:
    """Preprocessed multi-branch inputs ``{branch: (N, 3, H, W)}`` and
    samples of rendered ToyShapes images at the config's crop size.

    Unlabeled images are ``PAD_ROWS`` shorter than the crop and carry the
    all-zero marker of ``LoadUnlabeledAnnotations`` (padded with 255) and
    their true labels as ``gt_unsup_sem_seg``.
    """
    height, width = cfg.crop_size
    rng = np.random.default_rng(seed)
    inputs: Dict[str, list] = {b: [] for b in cfg.branch_field}
    samples: Dict[str, list] = {b: [] for b in cfg.branch_field}
    for _ in range(num_labeled):
        image, label = render_toy_image(rng, size=height)
        inputs['sup'].append(_bgr_chw(image))
        samples['sup'].append(_sample(label))
    for _ in range(num_unlabeled):
        image, label = render_toy_image(rng, size=height)
        image, label = image[:-PAD_ROWS], label[:-PAD_ROWS]
        for branch in cfg.branch_field[1:]:
            view = image if branch == 'unsup_weak' else _strong_view(image)
            inputs[branch].append(_bgr_chw(view))
            sample = _sample(np.zeros_like(label))
            sample.gt_unsup_sem_seg = PixelData(
                data=torch.from_numpy(label.astype(np.int64))[None])
            samples[branch].append(sample)
    data = model.data_preprocessor(
        dict(inputs=inputs, data_samples=samples), training=True)
    return data['inputs'], data['data_samples']


def fit_student(model: torch.nn.Module, inputs: Dict[str, Tensor],
                samples: Dict[str, List[SegDataSample]], steps: int = 20,
                lr: float = 0.05) -> None:
    """Supervised SGD steps of the student on every image of the batch
    (unlabeled ones with their true labels), so that its predictions pass
    the methods' confidence thresholds; a teacher copies the student."""
    student = model.student
    images = torch.cat([inputs['sup'], inputs['unsup_weak']])
    labels = torch.cat([
        model.stack_seg(samples['sup']),
        model.stack_seg(samples['unsup_weak'], 'gt_unsup_sem_seg')])
    optimizer = torch.optim.SGD(student.parameters(), lr=lr, momentum=0.9)
    for _ in range(steps):
        logits = model.upsample_logits(student._forward(images),
                                       images.shape[-2:])
        loss = torch.nn.functional.cross_entropy(
            logits, labels, ignore_index=model.ignore_index)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if model.teacher is not None:
        model.teacher.load_state_dict(student.state_dict())

"""Log the weak view, its pseudo-label and confidence every N iterations."""
from typing import Optional, Sequence, Union

import cv2
import numpy as np
import torch.nn as nn
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from torch import Tensor

from mmseg.registry import HOOKS

DATA_BATCH = Optional[Union[dict, tuple, list]]

#: Colours for labels the dataset palette does not cover (fixed seed, so
#: a class keeps its colour from one logged image to the next).
FALLBACK_PALETTE = np.random.default_rng(0).integers(
    0, 256, size=(256, 3), dtype=np.uint8)
#: Panel titles, left to right.
PANEL_TITLES = ('weak view', 'pseudo-label', 'kept', 'confidence')
#: Grey of the diagonal hatch lines on pixels left out of the loss.
HATCH_VALUE = 96
#: Period (pixels) of the hatch lines.
HATCH_PERIOD = 6


def find_image_preprocessor(model: nn.Module) -> Optional[nn.Module]:
    """The innermost data preprocessor of ``model`` (the one that holds
    ``mean``/``std``), looking through wrappers such as
    ``MultiBranchSegDataPreprocessor``."""
    pre = getattr(model, 'data_preprocessor', None)
    while hasattr(pre, 'data_preprocessor'):
        pre = pre.data_preprocessor
    return pre


def denormalize(images: Tensor,
                preprocessor: Optional[nn.Module]) -> np.ndarray:
    """Undo the data preprocessor's normalisation.

    Images are assumed to be loaded in BGR order (mmcv's default): without
    a channel conversion in the preprocessor the tensor is BGR and is
    flipped here, with ``bgr_to_rgb`` it is already RGB.

    Args:
        images (Tensor): Normalised images ``(N, C, H, W)``; the first three
            channels are shown.
        preprocessor (nn.Module, optional): ``SegDataPreProcessor``-like
            module with ``mean``/``std`` buffers ``(C, 1, 1)``.

    Returns:
        np.ndarray: RGB images ``(N, H, W, 3)`` uint8.
    """
    images = images.detach().float().cpu()
    if getattr(preprocessor, '_enable_normalize', False):
        images = images * preprocessor.std.cpu() + preprocessor.mean.cpu()
    images = images[:, :3].clamp(0, 255).round().byte()
    # mmseg names the flag channel_conversion, mmengine _channel_conversion
    converted = getattr(preprocessor, 'channel_conversion',
                        getattr(preprocessor, '_channel_conversion', False))
    if not converted:
        images = images.flip(1)
    return np.ascontiguousarray(images.permute(0, 2, 3, 1).numpy())


def colorize(labels: np.ndarray, palette: Optional[Sequence]) -> np.ndarray:
    """Label maps ``(...)`` int -> RGB ``(..., 3)`` uint8.

    ``palette`` (the dataset's, a list of RGB triples) colours its classes;
    :data:`FALLBACK_PALETTE` colours every other index.
    """
    colors = FALLBACK_PALETTE.copy()
    if palette is not None and len(palette):
        known = np.asarray(palette, dtype=np.uint8)[:len(colors)]
        colors[:len(known)] = known
    return colors[np.clip(labels, 0, len(colors) - 1)]


def hatch_mask(height: int, width: int) -> np.ndarray:
    """``(H, W)`` bool: the diagonal lines drawn over dropped pixels."""
    rows, cols = np.mgrid[:height, :width]
    return (rows + cols) % HATCH_PERIOD == 0


def kept_panel(image: np.ndarray, color: np.ndarray,
               kept: np.ndarray) -> np.ndarray:
    """Pseudo-label colours ``(H, W, 3)`` where ``kept`` ``(H, W)`` is True;
    elsewhere the image ``(H, W, 3)`` darkened to a quarter with grey
    hatch lines, so a dropped pixel never looks like a (black) class."""
    dropped = image // 4
    dropped[hatch_mask(*kept.shape)] = HATCH_VALUE
    return np.where(kept[..., None], color, dropped)


def title_strip(width: int, title: str, scale: float) -> np.ndarray:
    """A black ``(h, width, 3)`` uint8 strip with ``title`` in white; ``h``
    depends on ``scale`` only, so strips of one image line up."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    # the height of 'Ag' covers ascenders and descenders of any title
    (_, text_h), baseline = cv2.getTextSize('Ag', font, scale, 1)
    strip = np.zeros((text_h + baseline + 4, width, 3), dtype=np.uint8)
    cv2.putText(strip, title, (2, text_h + 2), font, scale, (255, 255, 255),
                1, cv2.LINE_AA)
    return strip


def compose_panels(images: np.ndarray, labels: np.ndarray,
                   conf: np.ndarray, kept: np.ndarray,
                   palette: Optional[Sequence] = None,
                   threshold: Optional[float] = None) -> np.ndarray:
    """One RGB image: a title strip, then per sample a row
    ``[weak view | pseudo-label | pseudo-label where kept | confidence]``.

    Args:
        images (np.ndarray): Weak views ``(n, H, W, 3)`` uint8 RGB.
        labels (np.ndarray): Pseudo-labels ``(n, H, W)`` int.
        conf (np.ndarray): Confidences in [0, 1] ``(n, H, W)``.
        kept (np.ndarray): Pixels trained on ``(n, H, W)`` bool.
        palette (Sequence, optional): Dataset palette (RGB triples).
        threshold (float, optional): Shown in the third panel's title.

    Returns:
        np.ndarray: ``(h + n * H, 4 * W, 3)`` uint8, ``h`` the height of
        the title strip.
    """
    colors = colorize(labels, palette)
    gray = np.round(np.clip(conf, 0, 1) * 255).astype(np.uint8)
    rows = [
        np.concatenate([
            image, color, kept_panel(image, color, keep),
            np.repeat(g[..., None], 3, axis=-1)
        ], axis=1)
        for image, color, keep, g in zip(images, colors, kept, gray)
    ]
    width = images.shape[2]
    titles = list(PANEL_TITLES)
    if threshold is not None:
        titles[2] = f'kept >={threshold:.2f}'
    scale = max(0.3, width / 320)
    header = np.concatenate(
        [title_strip(width, title, scale) for title in titles], axis=1)
    return np.concatenate([header, *rows], axis=0)


@HOOKS.register_module()
class PseudoLabelVisualizationHook(Hook):
    """Send the weak view, its pseudo-label, the kept pixels and the
    confidence to the visualiser every ``interval`` iterations.

    Before a logged iteration the hook sets the model's
    ``pseudo_label_record_request``; the method's
    :meth:`SemiBaseSegmentor.record_pseudo_labels` then copies the first
    ``max_images`` weak views with their pseudo-labels (other iterations
    copy nothing). After the iteration the hook composes one image with
    :func:`compose_panels` (a row per sample: un-normalised weak view,
    pseudo-label in the dataset palette, the same where the loss keeps
    it, with dropped pixels dark and hatched, and the confidence in grey)
    and calls ``runner.visualizer.add_image('pseudo_labels', image,
    step)``, so every configured backend gets it: ``LocalVisBackend``
    writes ``<work_dir>/<timestamp>/vis_data/vis_image/
    pseudo_labels_<step>.png``, ``TensorboardVisBackend`` an image summary.

    Iterations without pseudo-labels (U2PL's supervised-only warm-up) and
    models that record none are skipped. Only the main process records.

    Args:
        interval (int): Log every ``interval`` training iterations.
            Defaults to 100.
        max_images (int): Samples (rows) per image. Defaults to 4.
        enabled (bool): False makes the hook do nothing (the default in
            ``semi_default_runtime.py``). Defaults to True.
        name (str): Image name for the backends. Defaults to
            'pseudo_labels'.
    """

    priority = 'LOW'

    def __init__(self,
                 interval: int = 100,
                 max_images: int = 4,
                 enabled: bool = True,
                 name: str = 'pseudo_labels') -> None:
        if interval < 1 or max_images < 1:
            raise ValueError('interval and max_images must be positive; got '
                             f'interval={interval}, max_images={max_images}')
        self.interval = interval
        self.max_images = max_images
        self.enabled = enabled
        self.name = name

    @staticmethod
    def _model(runner) -> nn.Module:
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def before_train(self, runner) -> None:
        """Warn once when the model cannot record pseudo-labels."""
        model = self._model(runner)
        if self.enabled and not hasattr(model, 'record_pseudo_labels'):
            print_log(
                'PseudoLabelVisualizationHook: '
                f'{type(model).__name__} records no pseudo-labels; nothing '
                'will be logged', logger='current', level='WARNING')

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: DATA_BATCH = None) -> None:
        """Ask the model to record this iteration when it is logged."""
        model = self._model(runner)
        if (self.enabled and is_main_process()
                and hasattr(model, 'pseudo_label_record_request')
                and self.every_n_train_iters(runner, self.interval)):
            model.pseudo_label_record_request = self.max_images

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        """Compose and send the recorded pseudo-labels, then clear them."""
        if not self.enabled:
            return
        model = self._model(runner)
        record = getattr(model, 'pseudo_label_record', None)
        if hasattr(model, 'pseudo_label_record_request'):
            model.pseudo_label_record_request = 0
            model.pseudo_label_record = None
        if record is None:
            return
        image = compose_panels(
            denormalize(record.images, find_image_preprocessor(model)),
            record.labels.numpy(), record.conf.numpy(), record.mask.numpy(),
            self._palette(runner), record.threshold)
        runner.visualizer.add_image(self.name, image, step=runner.iter + 1)

    @staticmethod
    def _palette(runner) -> Optional[Sequence]:
        """The visualiser's dataset palette, else the train set's."""
        meta = getattr(runner.visualizer, 'dataset_meta', None) or {}
        if meta.get('palette') is not None:
            return meta['palette']
        dataset = getattr(runner.train_dataloader, 'dataset', None)
        return getattr(dataset, 'metainfo', {}).get('palette')

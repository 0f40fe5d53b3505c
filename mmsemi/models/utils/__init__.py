from .mixing import classmix_masks, cutmix_boxes, mix
from .pseudo_label import PseudoLabels, pseudo_labels_from_logits

__all__ = [
    'classmix_masks', 'cutmix_boxes', 'mix', 'PseudoLabels',
    'pseudo_labels_from_logits'
]

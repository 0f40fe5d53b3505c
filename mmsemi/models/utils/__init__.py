from .decode_head_streams import (check_segmentor, decode_with_features,
                                  decode_with_perturbation,
                                  decoder_feature_channels)
from .dynamic_threshold import DynamicThreshold
from .entropy_partition import (drop_rate_at, entropy, masked_percentile,
                                reliable_mask)
from .joint_augment import JointAugmentParams, joint_geometric_augment
from .mixing import classmix_masks, cutmix_boxes, mix, mix_features
from .orthogonal_agents import gather_agents, select_orthogonal_agents
from .precision import autocast_disabled, float32_compute, to_float32
from .pseudo_label import (PseudoLabels, class_probabilities,
                           pseudo_labels_from_logits)
from .region_propagation import propagate_regions_tiled, sample_shape_rows

__all__ = [
    'check_segmentor', 'decode_with_features', 'decoder_feature_channels',
    'decode_with_perturbation',
    'classmix_masks', 'cutmix_boxes', 'mix', 'mix_features',
    'select_orthogonal_agents', 'gather_agents', 'PseudoLabels',
    'pseudo_labels_from_logits', 'class_probabilities', 'float32_compute',
    'autocast_disabled', 'to_float32', 'DynamicThreshold', 'sample_shape_rows',
    'propagate_regions_tiled',
    'entropy', 'drop_rate_at',
    'masked_percentile', 'reliable_mask', 'JointAugmentParams',
    'joint_geometric_augment'
]

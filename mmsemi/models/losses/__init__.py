from .category_queue_infonce import CategoryQueueInfoNCELoss
from .correlation_loss import CorrelationLoss
from .masked_losses import masked_cross_entropy, masked_kl_div
from .prototype_contrast import PrototypeContrastLoss
from .rank_aware_kl_loss import RankAwareKLLoss
from .reco_threshold_ce import reco_fraction_cross_entropy

__all__ = [
    'masked_cross_entropy', 'masked_kl_div', 'CorrelationLoss',
    'CategoryQueueInfoNCELoss', 'PrototypeContrastLoss',
    'reco_fraction_cross_entropy', 'RankAwareKLLoss'
]

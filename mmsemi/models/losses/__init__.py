from .category_queue_infonce import CategoryQueueInfoNCELoss
from .correlation_loss import CorrelationLoss
from .prototype_contrast import PrototypeContrastLoss
from .reco_threshold_ce import (ReCoThresholdCELoss,
                                reco_fraction_cross_entropy)
from .masked_losses import (MaskedCrossEntropyLoss, MaskedKLDivLoss,
                            masked_cross_entropy, masked_kl_div)
from .rank_aware_kl_loss import RankAwareKLLoss

__all__ = [
    'MaskedCrossEntropyLoss', 'MaskedKLDivLoss', 'masked_cross_entropy',
    'masked_kl_div', 'CorrelationLoss', 'CategoryQueueInfoNCELoss',
    'PrototypeContrastLoss', 'ReCoThresholdCELoss',
    'reco_fraction_cross_entropy', 'RankAwareKLLoss'
]

from .category_queue_infonce import CategoryQueueInfoNCELoss
from .correlation_loss import CorrelationLoss
from .masked_losses import (MaskedCrossEntropyLoss, MaskedKLDivLoss,
                            masked_cross_entropy, masked_kl_div)
from .rank_aware_kl_loss import RankAwareKLLoss

__all__ = [
    'MaskedCrossEntropyLoss', 'MaskedKLDivLoss', 'masked_cross_entropy',
    'masked_kl_div', 'CorrelationLoss', 'CategoryQueueInfoNCELoss',
    'RankAwareKLLoss'
]

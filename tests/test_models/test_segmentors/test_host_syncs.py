"""Host-device synchronisations of one training step (``model.loss``) of
every method's toy config model, against the allow-list documented in the
README ("Mixed precision, fewer GPUs and GPU checks").

The detector (``_sync_detector.py``) sees value reads and data-dependent
shapes on any device, so this runs on the CPU. Host-to-device copies are
not visible here (every tensor is on the CPU); they are kept out of the
step by construction (tensors are created on the input's device).
"""
import collections

import pytest
import torch

from _sync_detector import SyncDetector, iter_events
from _toy_step import TOY_CONFIGS, fit_student, toy_batch, toy_model

SUPERVISED = 'models/segmentors/semi_base.py:supervised_loss'
CORR_SUPERVISED = 'models/utils/decode_head_streams.py:pixel_loss_by_feat'
TILED = 'models/utils/region_propagation.py'

#: mmseg's decode-head loss (``loss_by_feat`` of the wrapped segmentor,
#: outside mmsemi): ``CrossEntropyLoss(avg_non_ignore=True)`` reads the
#: number of labelled pixels with ``.item()``; ``accuracy`` selects the
#: labelled pixels with two boolean masks.
MMSEG_DECODE_LOSS = {'_local_scalar_dense': 1, 'index': 2}


def _at(site, ops):
    return {(site, op): num for op, num in ops.items()}


#: The synchronisations that remain in one step, per method.
DEVICE_SYNCS = {
    'UniMatch': _at(SUPERVISED, MMSEG_DECODE_LOSS),
    'RankMatch': _at(SUPERVISED, MMSEG_DECODE_LOSS),
    'U2PL': _at(SUPERVISED, MMSEG_DECODE_LOSS),
    'CSS': _at(SUPERVISED, MMSEG_DECODE_LOSS),
    'CorrMatch': {
        **_at(SUPERVISED, MMSEG_DECODE_LOSS),
        # the correlation branch's supervised term, same mmseg loss
        **_at(CORR_SUPERVISED, MMSEG_DECODE_LOSS),
        # region propagation: a sequential loop over the sampled shapes on
        # sparse work lists (the tiles each shape boundary crosses, the
        # pixels near the 0.5 level, the candidate shapes' tiles) whose
        # sizes and per-step bounds depend on the data
        (f'{TILED}:propagate_regions_tiled', 'nonzero'): 3,
        (f'{TILED}:_mixed_bits', 'nonzero'): 1,
        (f'{TILED}:_step_bounds', 'tolist'): 1,
    },
}
#: Reads of tensors that live on the host by design (drawn from torch's
#: CPU generator): they never wait for a GPU, whatever the model's device.
HOST_SIDE_SITES = {
    # CutMix boxes: rejection sampling, one round check per round
    'models/utils/mixing.py:_sample_box_sizes',
    # U2PL: one CutMix decision per batch
    'models/segmentors/u2pl.py:_cutmix_box',
}


@pytest.mark.parametrize('method', sorted(TOY_CONFIGS))
def test_step_synchronises_only_where_documented(method):
    model, cfg = toy_model(method)
    inputs, samples = toy_batch(model, cfg)
    fit_student(model, inputs, samples, steps=5)
    # Not the first step: U2PL and CSS read their iteration counter once
    # after the model is built or loaded (see IterationCounterMixin).
    model.loss(inputs, samples)
    torch.manual_seed(1)
    with SyncDetector() as detector:
        model.loss(inputs, samples)

    counts = detector.counts()
    device = collections.Counter(
        {key: num for key, num in counts.items()
         if key[0] not in HOST_SIDE_SITES})
    expected = collections.Counter(DEVICE_SYNCS[method])
    assert device == expected, '\n'.join(
        ['synchronisations of the step:', *iter_events(device),
         'allowed:', *iter_events(expected)])


def test_first_step_after_a_load_reads_the_iteration_counter_once():
    model, cfg = toy_model('U2PL')
    inputs, samples = toy_batch(model, cfg)
    model.loss(inputs, samples)
    model.load_state_dict(model.state_dict())
    site = 'models/segmentors/iteration_counter.py:next_iteration'
    reads = []
    for _ in range(2):
        with SyncDetector() as detector:
            model.loss(inputs, samples)
        reads.append(detector.counts()[(site, '_local_scalar_dense')])
    assert reads == [1, 0]
    assert int(model.cur_iter) == 3


def test_detector_sees_reads_and_data_dependent_shapes():
    x = torch.arange(6.)
    with SyncDetector() as detector:
        x.sum().item()
        bool(x.max() > 2)
        x[x > 2]
        x.tolist()
        torch.bincount(x.long())
        x.nonzero()
        torch.where(x > 2, x, 0.0).sum()  # no read, no data-dependent shape
    ops = [op for _, op in detector.events]
    assert ops == ['_local_scalar_dense', '_local_scalar_dense', 'index',
                   'tolist', 'bincount', 'nonzero']

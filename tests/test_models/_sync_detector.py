"""Record the operations of a code block that make a GPU host wait for
the device, on any device (the CPU has no ``torch.cuda.set_sync_debug_mode``).

Two kinds are recorded:

* value reads: ``.item()``, ``float()``, ``int()``, ``bool()`` and a Python
  ``if`` on a tensor (all dispatch ``aten._local_scalar_dense``),
  ``.tolist()``, ``.cpu()``, ``.numpy()``;
* operations whose output size depends on the data, which CUDA computes by
  reading a count back: ``nonzero``, boolean-mask indexing and assignment,
  ``masked_select``, ``unique``, ``bincount``, ``repeat_interleave`` without
  ``output_size``.

Each event is attributed to the innermost frame in the ``mmsemi`` package
(``'module/file.py:function'``), so a test can compare the events of a
training step with a documented allow-list.
"""
import collections
import os.path as osp
import sys
from typing import Counter, Iterator, List, Optional, Tuple

import torch
from torch.utils._python_dispatch import TorchDispatchMode

import mmsemi

MMSEMI_DIR = osp.dirname(osp.abspath(mmsemi.__file__))

#: Operations that always synchronise (by overload packet name).
SYNC_OPS = {
    '_local_scalar_dense', 'nonzero', 'masked_select', '_unique2',
    'unique_dim', 'unique_consecutive', 'bincount', 'equal',
}
#: Indexing operations that synchronise when an index is a boolean mask.
MASK_INDEX_OPS = {'index', 'index_put', 'index_put_', '_index_put_impl_'}
#: Tensor methods that read values on the host without dispatching an
#: operation on CPU tensors.
HOST_READ_METHODS = ('tolist', 'cpu', 'numpy')


def _mmsemi_site() -> Optional[str]:
    """``'relative/path.py:function'`` of the innermost mmsemi frame."""
    frame = sys._getframe(2)
    while frame is not None:
        path = osp.abspath(frame.f_code.co_filename)
        if path.startswith(MMSEMI_DIR + osp.sep):
            rel = osp.relpath(path, MMSEMI_DIR).replace(osp.sep, '/')
            return f'{rel}:{frame.f_code.co_name}'
        frame = frame.f_back
    return None


def _has_mask_index(args) -> bool:
    indices = args[1] if len(args) > 1 else ()
    return any(
        isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8)
        for i in (indices or ()))


class SyncDetector(TorchDispatchMode):
    """Inside ``with SyncDetector() as det:`` every synchronising operation
    is appended to ``det.events`` as ``(site, operation)``; ``site`` is None
    for operations outside mmsemi's code."""

    def __init__(self) -> None:
        super().__init__()
        self.events: List[Tuple[Optional[str], str]] = []
        self._originals = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name in SYNC_OPS or (name in MASK_INDEX_OPS
                                and _has_mask_index(args)):
            self.events.append((_mmsemi_site(), name))
        return func(*args, **(kwargs or {}))

    def _wrap(self, method: str):
        original = getattr(torch.Tensor, method)
        detector = self

        def wrapper(tensor, *args, **kwargs):
            detector.events.append((_mmsemi_site(), method))
            return original(tensor, *args, **kwargs)

        return original, wrapper

    def __enter__(self) -> 'SyncDetector':
        for method in HOST_READ_METHODS:
            original, wrapper = self._wrap(method)
            self._originals[method] = original
            setattr(torch.Tensor, method, wrapper)
        return super().__enter__()

    def __exit__(self, *exc) -> None:
        for method, original in self._originals.items():
            setattr(torch.Tensor, method, original)
        self._originals.clear()
        return super().__exit__(*exc)

    def counts(self) -> Counter:
        """Events per ``(site, operation)``."""
        return collections.Counter(self.events)


def iter_events(counts: Counter) -> Iterator[str]:
    """Readable lines of :meth:`SyncDetector.counts`, for failure messages."""
    for (site, op), num in sorted(counts.items(), key=str):
        yield f'{num:4d} x {op:20s} at {site}'

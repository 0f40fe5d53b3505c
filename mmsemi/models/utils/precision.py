"""Float32 regions inside mixed-precision (autocast) training.

Under ``--amp`` (mmengine's ``AmpOptimWrapper``) the forward runs inside
``torch.autocast``: convolutions and matrix products produce float16 (or
bfloat16) tensors. The backbone and heads tolerate that; the methods' own
computations do not all do: confidences compared with a 0.95 threshold,
entropies and their percentiles, Plackett-Luce log-probabilities over
orderings, EMA prototypes and queues that accumulate over thousands of
steps, ``n x n`` correlation softmaxes and pixel counts well above 256
(exact in float32 only). :func:`float32_compute` marks such a function:
it runs with autocast off and its half-precision tensor arguments cast to
float32 (a differentiable cast, so gradients flow back in the argument's
own dtype). Outside autocast and on float32 inputs it changes nothing.
"""
import contextlib
import functools
from typing import Any, Callable, Iterator, TypeVar

import torch
from torch import Tensor

HALF_DTYPES = (torch.float16, torch.bfloat16)
#: Device types whose autocast state is checked when a function receives
#: no tensor argument.
_AUTOCAST_DEVICE_TYPES = ('cpu', 'cuda')

Function = TypeVar('Function', bound=Callable[..., Any])


def to_float32(value: Any) -> Any:
    """A float16/bfloat16 tensor as float32; any other value unchanged."""
    if isinstance(value, Tensor) and value.dtype in HALF_DTYPES:
        return value.float()
    return value


@contextlib.contextmanager
def autocast_disabled(*tensors: Any) -> Iterator[None]:
    """Switch autocast off, inside the block, on the device types of
    ``tensors`` (non-tensors are ignored; with no tensor, on every device
    type) where it is on."""
    types = {t.device.type for t in tensors if isinstance(t, Tensor)}
    with contextlib.ExitStack() as stack:
        for device_type in sorted(types or _AUTOCAST_DEVICE_TYPES):
            if torch.is_autocast_enabled(device_type):
                stack.enter_context(
                    torch.autocast(device_type=device_type, enabled=False))
        yield


def float32_compute(function: Function) -> Function:
    """Decorator: run ``function`` with autocast off and its half-precision
    tensor arguments (positional and keyword; not inside containers) cast
    to float32."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        args = tuple(to_float32(a) for a in args)
        kwargs = {k: to_float32(v) for k, v in kwargs.items()}
        with autocast_disabled(*args, *kwargs.values()):
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]

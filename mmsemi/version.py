# Copyright (c) mmsemi contributors. All rights reserved.
"""Package version, read by ``setup.py`` without importing :mod:`mmsemi`."""
from typing import Tuple, Union

__version__ = '0.1.0'


def parse_version_info(version_str: str) -> Tuple[Union[int, str], ...]:
    """Split a version string into a comparable tuple.

    Args:
        version_str (str): A version such as ``'0.1.0'`` or ``'1.0.0rc1'``.

    Returns:
        tuple: Integer parts followed by the pre-release tag, e.g.
        ``(1, 0, 0, 'rc1')``.
    """
    version_info = []
    for part in version_str.split('.'):
        if part.isdigit():
            version_info.append(int(part))
        elif 'rc' in part:
            number, _, tag = part.partition('rc')
            version_info.append(int(number))
            version_info.append(f'rc{tag}')
        else:
            version_info.append(part)
    return tuple(version_info)


version_info = parse_version_info(__version__)

__all__ = ['__version__', 'version_info', 'parse_version_info']

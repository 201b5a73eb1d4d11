"""Compiled kernels of the replay (Cython, built at install when a C compiler is there).

:func:`load` gives a kernel module, or None when it was not built (or ``DEBATE_BOT_KERNELS=0``
asks for the NumPy code): every caller keeps the NumPy code it replaces, with the same results.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType


def load(name: str) -> ModuleType | None:
    """The compiled kernel module ``name`` (``clusters``, ``lanczos``), or None."""
    if os.environ.get("DEBATE_BOT_KERNELS", "1") == "0":
        return None
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ImportError:
        return None

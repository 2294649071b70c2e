"""Shared type aliases for the NumPy core."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating]
"""A NumPy array of floats (float32 or float64)."""

IntArray = npt.NDArray[np.integer]
"""A NumPy array of integers (indices, labels)."""

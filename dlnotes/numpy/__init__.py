"""From-scratch layers in NumPy: each forward sits next to its backward.

Every function works in float64 (and float32 where speed matters) and is tested
against PyTorch in float64 and against finite differences.
"""

"""dlnotes: a deep-learning knowledge base with a runnable code core.

Sub-packages:

* ``dlnotes.numpy``  from-scratch layers in NumPy (forward and backward side by side)
* ``dlnotes.models`` PyTorch models behind one registry
* ``dlnotes.viz``    figures that the site generates at build time
* ``dlnotes.transfer``, ``dlnotes.complexity``, ``dlnotes.labs`` transfer learning,
  parameter/MAC counts, the helpers of the lab notebooks
* ``dlnotes.train``  the training engine: config, data, checkpoints, loop

The tooling (never imports torch; the learning core above never imports it):

* ``dlnotes.kb``     the notes: grammar, parser, tracker, importer, checker
* ``dlnotes.runner`` running page code: blocks, kernels, ``dlnotes run``
* ``dlnotes.site``   the MkDocs plugins, the serve endpoint, static JS/CSS
  (the only package that imports mkdocs)
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dlnotes")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

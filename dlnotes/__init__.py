"""dlnotes: a deep-learning knowledge base with a runnable code core.

Sub-packages:

* ``dlnotes.numpy``  from-scratch layers in NumPy (forward and backward side by side)
* ``dlnotes.models`` PyTorch models behind one registry
* ``dlnotes.viz``    figures that the site generates at build time
* ``dlnotes.study``  the knowledge-base tooling (notes parser, tracker, MkDocs plugin);
  it never imports torch, and the learning core never imports it.
"""

from __future__ import annotations

__version__ = "0.1.0"

"""A minimal ``Module`` API for the NumPy layers: forward, backward, parameters.

Mirrors ``torch.nn.Module`` just enough to train a network by hand: ``forward``
caches what ``backward`` needs, ``backward(grad_output)`` stores parameter
gradients and returns the gradient with respect to the input, and
``train()``/``eval()`` switch layers such as BatchNorm and Dropout.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from dlnotes.numpy.types import FloatArray

__all__ = ["Module", "Sequential"]


class Module:
    """Base class: subclasses implement ``forward`` and ``backward``."""

    training: bool = True

    def forward(self, x: FloatArray) -> FloatArray:
        raise NotImplementedError

    def backward(self, grad_output: FloatArray) -> FloatArray:
        raise NotImplementedError

    def __call__(self, x: FloatArray) -> FloatArray:
        return self.forward(x)

    def parameters(self) -> list[FloatArray]:
        """Trainable arrays, updated in place by an optimizer."""
        return []

    def gradients(self) -> list[FloatArray]:
        """Gradients from the last ``backward``, in the order of ``parameters``."""
        return []

    def train(self, mode: bool = True) -> Module:
        self.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)


class Sequential(Module):
    """Layers applied in order; backward runs them in reverse (the chain rule)."""

    def __init__(self, layers: Iterable[Module]) -> None:
        self.layers = list(layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def forward(self, x: FloatArray) -> FloatArray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad_output: FloatArray) -> FloatArray:
        for layer in reversed(self.layers):
            grad_output = layer.backward(grad_output)
        return grad_output

    def parameters(self) -> list[FloatArray]:
        return [p for layer in self.layers for p in layer.parameters()]

    def gradients(self) -> list[FloatArray]:
        return [g for layer in self.layers for g in layer.gradients()]

    def train(self, mode: bool = True) -> Module:
        self.training = mode
        for layer in self.layers:
            layer.train(mode)
        return self

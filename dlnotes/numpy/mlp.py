"""A multilayer perceptron trained by backpropagation, in four separate steps.

1. 前馈过程 (forward): :meth:`Linear.forward` and the activations, layer by layer;
2. 损失函数 (loss): softmax cross-entropy on the logits;
3. 反向过程 (backward): the chain rule, layer by layer in reverse;
4. 权值更新 (update): SGD with momentum.

:func:`train_step` shows the four steps in order; :func:`train_digits` trains on
scikit-learn's handwritten digits (8x8 images, 10 classes, 1797 samples).
Backpropagation: Rumelhart, Hinton & Williams (1986), "Learning representations
by back-propagating errors", Nature 323.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dlnotes.numpy.batchnorm import BatchNorm1d
from dlnotes.numpy.digits import split_digits
from dlnotes.numpy.dropout import Dropout
from dlnotes.numpy.functional import (
    cross_entropy_loss,
    cross_entropy_loss_backward,
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    tanh,
    tanh_backward,
)
from dlnotes.numpy.module import Module, Sequential
from dlnotes.numpy.optim import SGD
from dlnotes.numpy.types import FloatArray, IntArray

__all__ = [
    "MLP",
    "DigitsData",
    "Linear",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "TrainHistory",
    "accuracy",
    "load_digits_split",
    "train_digits",
    "train_step",
]


# --8<-- [start:linear]
class Linear(Module):
    """Fully connected layer ``y = x W^T + b``, weight (out, in) like PyTorch.

    Initialised like ``torch.nn.Linear``: ``U(-1/sqrt(in), 1/sqrt(in))``.
    """

    def __init__(
        self, in_features: int, out_features: int, rng: np.random.Generator
    ) -> None:
        if in_features < 1 or out_features < 1:
            raise ValueError(
                "in_features and out_features must be >= 1, "
                f"got {in_features}, {out_features}"
            )
        bound = 1.0 / np.sqrt(in_features)
        self.weight = rng.uniform(-bound, bound, (out_features, in_features))
        self.bias = rng.uniform(-bound, bound, out_features)
        self.grad_weight = np.zeros_like(self.weight)
        self.grad_bias = np.zeros_like(self.bias)
        self.x: FloatArray | None = None

    def forward(self, x: FloatArray) -> FloatArray:
        self.x = x  # (N, in), kept for the backward pass
        return x @ self.weight.T + self.bias  # (N, out)

    def backward(self, grad_output: FloatArray) -> FloatArray:
        assert self.x is not None, "backward called before forward"
        self.grad_weight = grad_output.T @ self.x  # (out, in) = dL/dW
        self.grad_bias = grad_output.sum(axis=0)  # (out,)   = dL/db
        return grad_output @ self.weight  # (N, in)  = dL/dx

    def parameters(self) -> list[FloatArray]:
        return [self.weight, self.bias]

    def gradients(self) -> list[FloatArray]:
        return [self.grad_weight, self.grad_bias]


# --8<-- [end:linear]


# --8<-- [start:activation-layers]
class ReLU(Module):
    def forward(self, x: FloatArray) -> FloatArray:
        self.x = x
        return relu(x)

    def backward(self, grad_output: FloatArray) -> FloatArray:
        return relu_backward(grad_output, self.x)


class Sigmoid(Module):
    def forward(self, x: FloatArray) -> FloatArray:
        self.out = sigmoid(x)
        return self.out

    def backward(self, grad_output: FloatArray) -> FloatArray:
        return sigmoid_backward(grad_output, self.out)


# --8<-- [end:activation-layers]


class Tanh(Module):
    def forward(self, x: FloatArray) -> FloatArray:
        self.out = tanh(x)
        return self.out

    def backward(self, grad_output: FloatArray) -> FloatArray:
        return tanh_backward(grad_output, self.out)


_ACTIVATIONS: dict[str, type[Module]] = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}


class MLP(Sequential):
    """``Linear -> [BatchNorm1d] -> activation -> [Dropout]`` per hidden layer,
    then a final ``Linear`` that outputs logits.

    ``sizes = (in_features, hidden_1, ..., num_classes)``.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "relu",
        batchnorm: bool = False,
        dropout: float = 0.0,
        seed: int = 0,
    ) -> None:
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least (in, out), got {tuple(sizes)}")
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}"
            )
        rng = np.random.default_rng(seed)
        layers: list[Module] = []
        for fan_in, fan_out in itertools.pairwise(sizes[:-1]):
            layers.append(Linear(fan_in, fan_out, rng))
            if batchnorm:
                layers.append(BatchNorm1d(fan_out))
            layers.append(_ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(Dropout(dropout, seed=int(rng.integers(2**31))))
        layers.append(Linear(sizes[-2], sizes[-1], rng))
        super().__init__(layers)


# --8<-- [start:train-step]
def train_step(net: Module, optimizer: SGD, X: FloatArray, y: IntArray) -> float:
    """One iteration of backpropagation on the mini-batch ``X`` (N, D), ``y`` (N,)."""
    logits = net.forward(X)  # 1. 前馈过程: (N, num_classes)
    loss = cross_entropy_loss(logits, y)  # 2. 损失函数: mean -log p(y|x)
    grad_logits = cross_entropy_loss_backward(logits, y)  # (softmax - onehot) / N
    net.backward(grad_logits)  # 3. 反向过程: every layer stores dL/dparam
    optimizer.step(net.gradients())  # 4. 权值更新: p <- p - lr * v
    return loss


# --8<-- [end:train-step]


def accuracy(net: Module, X: FloatArray, y: IntArray) -> float:
    """Fraction of samples whose largest logit is the true class (eval mode)."""
    was_training = net.training
    net.eval()
    pred = net.forward(X).argmax(axis=1)
    net.train(was_training)
    return float(np.mean(pred == y))


@dataclass
class DigitsData:
    X_train: FloatArray  # (n_train, 64), standardised with train statistics
    X_test: FloatArray  # (n_test, 64)
    y_train: IntArray  # (n_train,) in 0..9
    y_test: IntArray  # (n_test,)


def load_digits_split(test_size: float = 0.25, seed: int = 0) -> DigitsData:
    """scikit-learn's digits (the shared split of :mod:`dlnotes.numpy.digits`),
    flattened to 64 features and standardised per pixel on the train part."""
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    digits = split_digits(test_fraction=test_size, seed=seed)
    X = digits.images.reshape(len(digits.images), -1)  # (N, 64)
    X_tr, X_te = X[digits.train], X[digits.test]
    mean, std = X_tr.mean(axis=0), X_tr.std(axis=0)
    std[std == 0] = 1.0  # pixels that are always 0 in the corners
    y_tr, y_te = digits.labels[digits.train], digits.labels[digits.test]
    return DigitsData((X_tr - mean) / std, (X_te - mean) / std, y_tr, y_te)


@dataclass
class TrainHistory:
    train_loss: list[float] = field(default_factory=list)  # mean loss per epoch
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    seconds: float = 0.0


# --8<-- [start:train-digits]
def train_digits(
    hidden: Sequence[int] = (128,),
    num_epochs: int = 20,
    batch_size: int = 32,
    lr: float = 0.05,
    momentum: float = 0.9,
    weight_decay: float = 1e-4,
    activation: str = "relu",
    batchnorm: bool = False,
    dropout: float = 0.0,
    seed: int = 0,
) -> tuple[MLP, TrainHistory]:
    """Train an MLP on the 8x8 digits with mini-batch SGD + momentum."""
    data = load_digits_split(seed=seed)
    net = MLP((64, *hidden, 10), activation, batchnorm, dropout, seed=seed)
    optimizer = SGD(net.parameters(), lr, momentum, weight_decay=weight_decay)
    rng = np.random.default_rng(seed)
    history, start = TrainHistory(), time.perf_counter()
    n = len(data.y_train)
    for _ in range(num_epochs):
        net.train()
        order = rng.permutation(n)  # reshuffle every epoch: "stochastic"
        losses = []
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            losses.append(
                train_step(net, optimizer, data.X_train[idx], data.y_train[idx])
            )
        history.train_loss.append(float(np.mean(losses)))
        history.train_acc.append(accuracy(net, data.X_train, data.y_train))
        history.test_acc.append(accuracy(net, data.X_test, data.y_test))
    history.seconds = time.perf_counter() - start
    return net, history


# --8<-- [end:train-digits]

"""Gradient descent: step size on a quadratic; SGD, momentum and adaptive optimisers.

On the quadratic ``f(x) = 1/2 x^T A x - b^T x`` (A symmetric positive definite,
eigenvalues ``mu = lambda_min <= ... <= lambda_max = L``), gradient descent
``x <- x - lr (A x - b)`` moves the error ``e = x - x*`` by ``e <- (I - lr A) e``.
Along eigenvector i the error is multiplied by ``1 - lr * lambda_i`` each step, so

* it converges iff ``|1 - lr lambda_i| < 1`` for all i, i.e. ``0 < lr < 2 / L``;
* it oscillates (sign flips) along directions with ``lr lambda_i > 1``;
* the best constant step is ``lr = 2 / (mu + L)``, with rate
  ``(kappa - 1) / (kappa + 1)``, ``kappa = L / mu``.

:class:`SGD` reproduces ``torch.optim.SGD`` (momentum, dampening, Nesterov, weight
decay) update for update. Momentum: Polyak (1964). PyTorch keeps the learning rate
outside the velocity, ``v <- mu v + g; p <- p - lr v``, unlike Sutskever et al.
(2013), ``v <- mu v + lr g; p <- p - v``; the two agree while ``lr`` is constant.

:class:`Adagrad` (Duchi et al. 2011), :class:`RMSprop` (Tieleman & Hinton 2012),
:class:`Adam` (Kingma & Ba 2014, arXiv:1412.6980) and :class:`AdamW` (Loshchilov &
Hutter 2017, arXiv:1711.05101) reproduce their ``torch.optim`` namesakes with the
same defaults; the tests run each for many steps against PyTorch in float64.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dlnotes.numpy.types import FloatArray

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Optimizer",
    "Quadratic",
    "RMSprop",
    "convergence_rate",
    "gradient_descent",
    "optimal_lr",
    "step_size_regime",
]


# --8<-- [start:quadratic]
@dataclass(frozen=True)
class Quadratic:
    """``f(x) = 1/2 x^T A x - b^T x`` with A symmetric positive definite."""

    A: FloatArray  # (d, d), symmetric positive definite
    b: FloatArray  # (d,)

    def __post_init__(self) -> None:
        A, b = np.asarray(self.A, dtype=np.float64), np.asarray(self.b, np.float64)
        if A.ndim != 2 or A.shape[0] != A.shape[1] or not np.allclose(A, A.T):
            raise ValueError(f"A must be a symmetric square matrix, got {A.shape}")
        if np.linalg.eigvalsh(A)[0] <= 0:
            raise ValueError("A must be positive definite (all eigenvalues > 0)")
        if b.shape != (A.shape[0],):
            raise ValueError(f"b must have shape ({A.shape[0]},), got {b.shape}")
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "b", b)

    def __call__(self, x: FloatArray) -> float:
        return float(0.5 * x @ self.A @ x - self.b @ x)

    def grad(self, x: FloatArray) -> FloatArray:
        return self.A @ x - self.b

    @property
    def minimizer(self) -> FloatArray:
        return np.linalg.solve(self.A, self.b)

    @property
    def mu(self) -> float:
        """Smallest eigenvalue (strong convexity constant)."""
        return float(np.linalg.eigvalsh(self.A)[0])

    @property
    def L(self) -> float:
        """Largest eigenvalue (Lipschitz constant of the gradient)."""
        return float(np.linalg.eigvalsh(self.A)[-1])


# --8<-- [end:quadratic]


# --8<-- [start:gradient-descent]
def gradient_descent(
    grad: Callable[[FloatArray], FloatArray],
    x0: FloatArray,
    lr: float,
    num_steps: int,
) -> FloatArray:
    """Plain gradient descent ``x <- x - lr * grad(x)``.

    Returns the trajectory, shape (num_steps + 1, d), starting with ``x0``.
    """
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    if num_steps < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}")
    xs = [np.asarray(x0, dtype=np.float64)]
    for _ in range(num_steps):
        xs.append(xs[-1] - lr * grad(xs[-1]))
    return np.stack(xs)


def convergence_rate(lr: float, eigenvalues: FloatArray) -> float:
    """Per-step error factor ``max_i |1 - lr lambda_i|`` of GD on a quadratic."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    return float(np.max(np.abs(1.0 - lr * lam)))


def optimal_lr(mu: float, L: float) -> float:
    """``2 / (mu + L)``: minimises :func:`convergence_rate` over constant steps."""
    if not 0 < mu <= L:
        raise ValueError(f"need 0 < mu <= L, got mu={mu}, L={L}")
    return 2.0 / (mu + L)


def step_size_regime(lr: float, L: float) -> str:
    """What GD does along the steepest direction (curvature L) with step ``lr``.

    ``"monotone"`` (lr <= 1/L), ``"oscillating"`` (1/L < lr < 2/L, sign flips but
    converges), ``"stalled"`` (lr = 2/L exactly) or ``"divergent"`` (lr > 2/L).
    """
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    factor = 1.0 - lr * L
    if factor >= 0:
        return "monotone"
    if factor > -1:
        return "oscillating"
    return "stalled" if factor == -1 else "divergent"


# --8<-- [end:gradient-descent]


# --8<-- [start:optimizer]
class Optimizer:
    """Base class: NumPy parameters updated in place, one state dict per parameter.

    ``step(grads)`` checks the gradients and calls :meth:`update` for each
    parameter; subclasses write the update rule and nothing else.
    """

    def __init__(self, params: Sequence[FloatArray], lr: float) -> None:
        if not lr >= 0:
            raise ValueError(f"lr must be >= 0, got {lr}")
        self.params = list(params)
        self.lr = lr
        self.state: list[dict[str, FloatArray]] = [{} for _ in self.params]
        self.steps = 0  # number of calls to step()

    def step(self, grads: Sequence[FloatArray]) -> None:
        """Update every parameter in place from its gradient."""
        if len(grads) != len(self.params):
            raise ValueError(
                f"grads must have one array per parameter ({len(self.params)}), "
                f"got {len(grads)}"
            )
        for i, (p, g) in enumerate(zip(self.params, grads, strict=True)):
            if g.shape != p.shape:
                raise ValueError(f"grads[{i}] has shape {g.shape}, param {p.shape}")
        self.steps += 1
        for p, g, state in zip(self.params, grads, self.state, strict=True):
            self.update(p, np.asarray(g, dtype=p.dtype), state)

    def update(
        self, p: FloatArray, g: FloatArray, state: dict[str, FloatArray]
    ) -> None:
        raise NotImplementedError


def _check(
    name: str, value: float, low: float = 0.0, high: float | None = None
) -> None:
    """``ValueError`` unless ``low <= value`` (and ``value < high`` if given)."""
    if not value >= low or (high is not None and not value < high):
        rule = f">= {low}" if high is None else f"in [{low}, {high})"
        raise ValueError(f"{name} must be {rule}, got {value}")


# --8<-- [end:optimizer]


# --8<-- [start:sgd]
class SGD(Optimizer):
    """Stochastic gradient descent exactly like ``torch.optim.SGD``.

    Per parameter ``p`` with gradient ``g`` (``maximize=False``)::

        g = g + weight_decay * p                 # L2 penalty
        v = g                   (first step)     # momentum buffer
        v = momentum * v + (1 - dampening) * g   (later steps)
        g = g + momentum * v if nesterov else v
        p = p - lr * g
    """

    def __init__(
        self,
        params: Sequence[FloatArray],
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(params, lr)
        _check("momentum", momentum)
        _check("weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov requires momentum > 0 and dampening = 0")
        self.momentum, self.dampening = momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov

    def update(
        self, p: FloatArray, g: FloatArray, state: dict[str, FloatArray]
    ) -> None:
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        if self.momentum != 0:
            if "velocity" not in state:
                v = g.copy()
            else:
                v = self.momentum * state["velocity"] + (1 - self.dampening) * g
            state["velocity"] = v
            g = g + self.momentum * v if self.nesterov else v
        p -= self.lr * g


# --8<-- [end:sgd]


# --8<-- [start:adagrad]
class Adagrad(Optimizer):
    """AdaGrad (Duchi et al. 2011) exactly like ``torch.optim.Adagrad``.

    Each coordinate gets its own step ``lr / (sqrt(sum of its squared gradients)
    + eps)``: coordinates with large past gradients move less. The sum only grows,
    so the steps only shrink (good for sparse features, too cautious for deep nets).
    """

    def __init__(
        self,
        params: Sequence[FloatArray],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        super().__init__(params, lr)
        _check("lr_decay", lr_decay)
        _check("weight_decay", weight_decay)
        _check("initial_accumulator_value", initial_accumulator_value)
        _check("eps", eps)
        self.lr_decay, self.weight_decay, self.eps = lr_decay, weight_decay, eps
        for p, state in zip(self.params, self.state, strict=True):
            state["sum"] = np.full_like(p, initial_accumulator_value)

    def update(
        self, p: FloatArray, g: FloatArray, state: dict[str, FloatArray]
    ) -> None:
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        clr = self.lr / (1 + (self.steps - 1) * self.lr_decay)
        state["sum"] += g * g  # r <- r + g ⊙ g
        p -= clr * g / (np.sqrt(state["sum"]) + self.eps)


# --8<-- [end:adagrad]


# --8<-- [start:rmsprop]
class RMSprop(Optimizer):
    """RMSProp (Tieleman & Hinton 2012) exactly like ``torch.optim.RMSprop``.

    AdaGrad with a leaky sum: ``r <- alpha r + (1 - alpha) g²`` is an exponential
    moving average of the squared gradient, so old gradients are forgotten and
    the step does not decay to zero. ``centered`` divides by an estimate of the
    gradient's standard deviation instead of its root mean square.
    """

    def __init__(
        self,
        params: Sequence[FloatArray],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        super().__init__(params, lr)
        _check("alpha", alpha)
        _check("eps", eps)
        _check("weight_decay", weight_decay)
        _check("momentum", momentum)
        self.alpha, self.eps, self.weight_decay = alpha, eps, weight_decay
        self.momentum, self.centered = momentum, centered

    def update(
        self, p: FloatArray, g: FloatArray, state: dict[str, FloatArray]
    ) -> None:
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        a = self.alpha
        r = state["square_avg"] = a * state.get("square_avg", 0 * p) + (1 - a) * g * g
        if self.centered:
            m = state["grad_avg"] = a * state.get("grad_avg", 0 * p) + (1 - a) * g
            denom = np.sqrt(r - m * m) + self.eps  # std of g, not its RMS
        else:
            denom = np.sqrt(r) + self.eps
        if self.momentum > 0:
            buf = state["momentum_buffer"] = (
                self.momentum * state.get("momentum_buffer", 0 * p) + g / denom
            )
            p -= self.lr * buf
        else:
            p -= self.lr * g / denom


# --8<-- [end:rmsprop]


# --8<-- [start:adam]
class Adam(Optimizer):
    """Adam (Kingma & Ba 2014, arXiv:1412.6980) exactly like ``torch.optim.Adam``.

    Momentum on the gradient (first moment ``m``) plus RMSProp's per-coordinate
    scale (second moment ``v``), both exponential moving averages started at 0
    and divided by ``1 - beta**t`` to remove that start-up bias::

        m = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g²
        p = p - lr * (m / (1 - b1**t)) / (sqrt(v / (1 - b2**t)) + eps)

    ``weight_decay`` is an L2 penalty added to ``g`` (it is then rescaled by
    ``v`` like the rest of the gradient); :class:`AdamW` decouples it.
    """

    decoupled = False  # AdamW: weight decay applied to p directly

    def __init__(
        self,
        params: Sequence[FloatArray],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr)
        _check("betas[0]", betas[0], 0.0, 1.0)
        _check("betas[1]", betas[1], 0.0, 1.0)
        _check("eps", eps)
        _check("weight_decay", weight_decay)
        self.betas, self.eps, self.weight_decay = betas, eps, weight_decay
        self.amsgrad = amsgrad

    def update(
        self, p: FloatArray, g: FloatArray, state: dict[str, FloatArray]
    ) -> None:
        b1, b2 = self.betas
        t = self.steps
        if self.weight_decay != 0:
            if self.decoupled:
                p *= 1 - self.lr * self.weight_decay  # shrink p, outside the scaling
            else:
                g = g + self.weight_decay * p  # L2: part of the gradient
        m = state["exp_avg"] = b1 * state.get("exp_avg", 0 * p) + (1 - b1) * g
        v = state["exp_avg_sq"] = b2 * state.get("exp_avg_sq", 0 * p) + (1 - b2) * g * g
        if self.amsgrad:  # never let the denominator shrink (Reddi et al. 2018)
            v = state["max_exp_avg_sq"] = np.maximum(state.get("max_exp_avg_sq", v), v)
        step_size = self.lr / (1 - b1**t)
        denom = np.sqrt(v) / np.sqrt(1 - b2**t) + self.eps
        p -= step_size * m / denom


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter 2017, arXiv:1711.05101) like ``torch.optim.AdamW``.

    Adam whose weight decay shrinks the parameters directly,
    ``p <- p (1 - lr * weight_decay)``, instead of entering the gradient: every
    weight decays at the same relative rate, however large its past gradients.
    """

    decoupled = True

    def __init__(
        self,
        params: Sequence[FloatArray],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


# --8<-- [end:adam]

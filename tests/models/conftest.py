"""Fixtures for the model tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Run each model test on one intra-op thread.

    The tensors here are tiny (batch 2, 32x32 or 64x64): with two OpenMP threads
    on a busy 2-core machine, spin-waiting made a CIFAR ResNet-110 forward pass
    100x slower (8.7 s instead of 0.07 s). One thread is fast and deterministic.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

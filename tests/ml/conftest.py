"""Real embedders, each loaded once per test session with the network cut off (proves offline loading)."""

from __future__ import annotations

import socket

import pytest


class NetworkBlocked(RuntimeError):
    pass


def _refuse(*args, **kwargs):
    raise NetworkBlocked(f"network access attempted: {args[:2]}")


@pytest.fixture(scope="session")
def no_network():
    """Inside this context any socket connection raises (a model must not download)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _refuse)
        patch.setattr(socket, "create_connection", _refuse)
        yield


def _load(name):
    from ml.embedders import make_embedder

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", _refuse)
        patch.setattr(socket, "create_connection", _refuse)
        model = make_embedder(name)
        model.encode(["прогрев модели", "warm-up"])  # forces the weights to load while offline
    return model


@pytest.fixture(scope="session")
def use_model():
    """The multilingual Universal Sentence Encoder (default backend)."""
    from ml.embedders import USE_MULTILINGUAL

    return _load(USE_MULTILINGUAL)


@pytest.fixture(scope="session")
def minilm_model():
    """all-MiniLM-L6-v2 from its installed package through sentence-transformers."""
    from ml.embedders import MINILM

    return _load(MINILM)

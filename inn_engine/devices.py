"""Where networks train and sample: ``device=`` arguments checked once, with clear errors.

Everything runs on the CPU by default. ``"cuda"`` (or ``"cuda:N"``) trains and samples on a
GPU when torch sees one; ``"auto"`` picks the first GPU when there is one, else the CPU.
Latent and training noise is always drawn on the CPU from the seeded generators and then
moved, so a seed gives the same random numbers on every device.
"""

from __future__ import annotations

import torch

__all__ = ["resolve_device", "seeded_normal", "DEVICE_FORM"]

DEVICE_FORM = '"cpu" (the default), "cuda", "cuda:N" or "auto"'


def resolve_device(device, name: str = "device") -> torch.device:
    """``device`` (a string, a :class:`torch.device` or None for the CPU) -> a usable torch.device.

    Under torch.distributed with CUDA, plain ``"cuda"`` means this rank's current GPU (set by
    :mod:`inn_engine.launch`). Raises ValueError naming ``name`` for anything else: unknown
    kinds, CUDA without a GPU, or a GPU index that does not exist.
    """
    if device is None:
        return torch.device("cpu")
    if isinstance(device, str) and device.strip().lower() == "auto":
        return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
    if not isinstance(device, (str, torch.device)):
        raise ValueError(f"{name} must be {DEVICE_FORM}, got {device!r}")
    try:
        dev = torch.device(device.strip().lower() if isinstance(device, str) else device)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"{name} must be {DEVICE_FORM}, got {device!r}") from err
    if dev.type == "cpu":
        return torch.device("cpu")
    if dev.type != "cuda":
        raise ValueError(f"{name} must be {DEVICE_FORM}, got {device!r} (device type {dev.type!r} is not supported)")
    if not torch.cuda.is_available():
        raise ValueError(
            f"{name}={device!r} but torch sees no CUDA GPU here (torch.cuda.is_available() is False); use 'cpu'"
        )
    index = torch.cuda.current_device() if dev.index is None else dev.index
    if index >= torch.cuda.device_count():
        raise ValueError(f"{name}={device!r} but there are only {torch.cuda.device_count()} CUDA GPU(s)")
    return torch.device("cuda", index)


def seeded_normal(*shape: int, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal draws of ``shape`` from the CPU ``generator``, as ``like``'s dtype on its device.

    Drawing on the CPU and moving keeps a seed's numbers the same on every device.
    """
    return torch.randn(*shape, generator=generator, dtype=like.dtype).to(like.device)

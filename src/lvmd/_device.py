"""Which PyTorch device a configuration names, checked against this machine.

One function serves ``lvmd config --check`` and the training code, so a configuration that passes the check also
runs: ``device = "cuda"`` on a machine without CUDA is refused by both with the same line.
"""

from __future__ import annotations

from .errors import ConfigError

DEVICE_KINDS = ("auto", "cpu", "cuda", "cuda:N", "mps")


def resolve_device(name: str, field: str = "features.device"):
    """The :class:`torch.device` for ``name`` ("auto": CUDA when present, else CPU).

    Raises
    ------
    ConfigError
        ``name`` is not a device PyTorch knows, or names an accelerator this machine does not have.
    """
    import torch

    if not isinstance(name, str):
        raise ConfigError(f"{field} = {name!r}: must be one of {', '.join(DEVICE_KINDS)}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"{field} = {name!r}: not a device name; use one of {', '.join(DEVICE_KINDS)}") from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(f"{field} = {name!r}: this machine has no CUDA device (use \"auto\" or \"cpu\")")
        if device.index is not None and device.index >= count:
            raise ConfigError(f"{field} = {name!r}: this machine has {count} CUDA device(s), numbered from 0")
        return device
    if device.type == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(f"{field} = {name!r}: this machine has no Apple MPS device (use \"auto\" or \"cpu\")")
        return device
    raise ConfigError(f"{field} = {name!r}: device type {device.type} is not supported; use one of "
                      f"{', '.join(DEVICE_KINDS)}")


def check_device(name: str, field: str = "features.device") -> None:
    """Refuse a device this machine cannot use; ``"auto"`` and ``"cpu"`` are accepted without importing PyTorch."""
    if name in ("auto", "cpu"):
        return
    resolve_device(name, field)

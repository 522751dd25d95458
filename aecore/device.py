"""Where the work runs: the device a name asks for, the fastest one here, and whether it has fast bf16."""

from __future__ import annotations

import copy

import torch

from aecore.errors import InputError


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda asked for, but no CUDA GPU is available")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InputError("--device mps asked for, but MPS is not available")
    return torch.device(name)


def compute_copy(model: torch.nn.Module, device: str = "auto") -> torch.nn.Module:
    """The model on the fastest device for bulk work (encoding, scoring, evaluation): itself on the CPU; on a
    GPU a copy, so a model that the app's sessions share is never moved under another thread's feet."""
    dev = pick_device(device)
    return model if dev.type == "cpu" else copy.deepcopy(model).to(dev)


def bf16_is_native(device: torch.device) -> bool:
    """Whether ``device`` computes in bfloat16 natively (AVX512-BF16 or AMX on the CPU, a CUDA GPU that has it);
    elsewhere bf16 is emulated and slower than fp32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return False


def describe_device(name: str = "auto") -> str:
    """Where training runs, in words: the GPU's name, or the CPU with its thread count; and whether it has
    fast bf16 (what precision "auto" uses)."""
    device = pick_device(name)
    bf16 = ", bf16 arithmetic" if bf16_is_native(device) else ""
    if device.type == "cuda":
        return f"GPU ({torch.cuda.get_device_name(device)}{bf16})"
    return "Apple GPU (MPS)" if device.type == "mps" else f"CPU ({torch.get_num_threads()} threads{bf16})"

"""Know quickly whether a host is reachable, so that nothing waits on a network that is not there."""

from __future__ import annotations

import functools
import os
import socket

HUB_HOST = "huggingface.co"
DEBIAN_MIRROR = "deb.debian.org"


@functools.cache
def is_reachable(host: str, port: int = 443, timeout: float = 1.5) -> bool:
    """True if a TCP connection to host:port opens within `timeout` seconds (asked once per process).

    TOMCLIP_OFFLINE=1 answers False without asking, for machines that must stay off the network.
    """
    if os.environ.get("TOMCLIP_OFFLINE") == "1":
        return False
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def configure_hub_offline() -> bool:
    """Set the Hugging Face offline flags when the hub cannot be reached; return True if offline.

    Must run before transformers, huggingface_hub or datasets are imported: they read the flags
    once, at import. tomclip_lib's __init__ calls it.
    """
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return True
    if is_reachable(HUB_HOST):
        return False
    for flag in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[flag] = "1"
    return True

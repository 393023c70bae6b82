"""Cluster arithmetic without Ray: how many trials of a given request a node holds (fractional
GPUs pack), how many the cluster runs at once, and whether an address answers at all."""

from __future__ import annotations

import socket

from bench.errors import BenchError


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise BenchError(
            f"'{address}' is not a Ray address",
            fix="use auto, HOST:PORT (e.g. 10.0.0.5:6379) or ray://HOST:10001",
        )
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise BenchError(
            f"no Ray cluster answers at {address}: {exc.strerror or exc}",
            fix="start the cluster's head with `ray start --head` and pass the address it prints "
            "(`ray status` on the head shows it), or drop --address to run on this machine",
        ) from None


RAY_RESOURCE_UNIT = 10_000


def trials_per_node(node: dict[str, float], request: dict[str, float]) -> int:
    """How many trials asking for `request` one node holds at once: the scarcest resource decides
    (a 0.25 GPU trial packs four to a GPU, if the node has the CPUs for four)."""
    fits = []
    for name, amount in request.items():
        if amount <= 0:
            continue
        need = round(amount * RAY_RESOURCE_UNIT)
        have = round(node.get(name, 0.0) * RAY_RESOURCE_UNIT)
        fits.append(have // need)
    return min(fits) if fits else 0


def concurrency(nodes: list[dict[str, float]], request: dict[str, float]) -> int:
    """Trials the whole cluster runs at once."""
    return sum(trials_per_node(node, request) for node in nodes)

"""Probes for a child's health: a free port to give it, an open port, a URL that answers."""

from __future__ import annotations

import socket
import urllib.request


def url_answers(url: str, timeout: float = 2.0) -> bool:
    """Whether ``url`` answers a GET with a 2xx status.

    A probe for :meth:`~airflow_provider_intervals.supervisor.child.Child.wait_until`.

    :param url: the URL to GET.
    :param timeout: seconds to wait for the answer.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (OSError, ValueError):
        return False


def free_port(pair: bool = False) -> int:
    """Return a loopback port nothing listens on (bound once to pick it, then released).

    :param pair: also require ``port + 10000`` to be free (SeaweedFS's gRPC ports).
    """
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if not pair:
            return port
        if port > 55000:
            continue
        try:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair on loopback")


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections on ``host:port``.

    A probe for :meth:`~airflow_provider_intervals.supervisor.child.Child.wait_until`.

    :param port: the TCP port.
    :param host: the address; loopback by default.
    :param timeout: seconds to wait for the connection.
    """
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True

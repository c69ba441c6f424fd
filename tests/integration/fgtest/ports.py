# SPDX-License-Identifier: ISC
"""Free TCP ports on 127.0.0.1 (loopback only, never a wildcard bind)."""
import socket
import time

LOOPBACK = "127.0.0.1"


def free_port(host=LOOPBACK):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def free_ports(n, host=LOOPBACK):
    """n distinct free ports (held open together so they differ)."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def is_listening(port, host=LOOPBACK):
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_listening(port, timeout=10.0, host=LOOPBACK, proc=None):
    """Wait until something accepts on host:port; False on timeout or if
    proc (a Popen) exits first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        if is_listening(port, host):
            return True
        time.sleep(0.05)
    return False


def wait_free(port, timeout=10.0, host=LOOPBACK):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not is_listening(port, host):
            return True
        time.sleep(0.05)
    return False

"""Open a listening socket, or say in one line why not and what to run instead (no traceback)."""

import errno
import socket


class CannotListen(Exception):
    """The message is the whole story for the terminal: which address, why, and the command that works."""


def listen(host: str, port: int, *, other_port_hint: str) -> socket.socket:
    """`other_port_hint` is the command that starts on another port, e.g. `PORT=9000 make dev`."""
    try:
        return socket.create_server((host, port))
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise CannotListen(
                f"Port {port} on {host} is already in use (another server running?). "
                f"Start on another port: {other_port_hint}"
            ) from None
        if error.errno == errno.EACCES:
            raise CannotListen(
                f"Not allowed to listen on {host}:{port} (ports below 1024 need root). "
                f"Start on another port: {other_port_hint}"
            ) from None
        reason = error.strerror or str(error)
        raise CannotListen(f"Cannot listen on {host}:{port}: {reason}.") from None

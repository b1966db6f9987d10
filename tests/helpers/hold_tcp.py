#!/usr/bin/env python3
"""Test helper for tests/kernel/tcp_40k.rs and tests/kernel/serve.rs (and bench/serve.sh): holds
loopback TCP connections in the network namespace it runs in, until its stdin closes (or it is
killed).

    hold_tcp.py COUNT [HALF_CLOSED]

One listener on 127.0.0.1 and COUNT connections to it (2 COUNT + 1 sockets: LISTEN and
ESTABLISHED), then HALF_CLOSED connections whose client shut its sending side (the client
FIN_WAIT2, the server's end CLOSE_WAIT). The client is shut down, not closed: a closed one would
be an orphan that the kernel turns into a time-wait socket, which /proc shows as FIN_WAIT2 and
the socket's own state calls TIME_WAIT.

Prints "ready PORT" (the listener's port) once every connection is accepted and every
half-closed one has reached its state. COUNT is kept under half the fd hard limit by the caller:
the 40k test spreads its sockets over several holders.
"""
import resource
import socket
import sys
import time


def main():
    count = int(sys.argv[1])
    half_closed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    address = listener.getsockname()
    held = [listener]
    for index in range(count + half_closed):
        client = socket.create_connection(address)
        server, _ = listener.accept()
        if index >= count:
            client.shutdown(socket.SHUT_WR)
        held += [client, server]
    if half_closed:
        # Loopback acknowledges each FIN at once; a short wait lets every one land.
        time.sleep(0.2)
    print("ready", address[1], flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()

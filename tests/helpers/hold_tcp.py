#!/usr/bin/env python3
"""Test helper for tests/kernel/tcp_40k.rs: holds loopback TCP connections in the network
namespace it runs in, until its stdin closes (or it is killed).

    hold_tcp.py COUNT    one listener on 127.0.0.1 and COUNT connections to it (2 COUNT + 1 sockets)

Prints "ready PORT" (the listener's port) once every connection is accepted. COUNT is kept under
half the fd hard limit by the caller: the test spreads its sockets over several holders.
"""
import resource
import socket
import sys


def main():
    count = int(sys.argv[1])
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    address = listener.getsockname()
    held = [listener]
    for _ in range(count):
        client = socket.create_connection(address)
        server, _ = listener.accept()
        held += [client, server]
    print("ready", address[1], flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()

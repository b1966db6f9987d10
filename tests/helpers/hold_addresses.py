#!/usr/bin/env python3
"""Test helper for tests/kernel/addresses.rs: holds TCP and UDP sockets of every address kind in
the network namespace it runs in (the test's own, with 2001:db8::1:0:0:1 and
2001:db8:0:1:1:1:1:1 on its loopback), until its stdin closes (or it is killed).

    TCP: listeners on 127.0.0.1, ::1, 0.0.0.0, [::] (dual-stack) and [::] with IPV6_V6ONLY,
         and 2001:db8::1:0:0:1; one connection to each of the first, second and last; an IPv4
         client of the dual-stack listener (its server side has IPv4-mapped addresses).
    UDP: 127.0.0.1, ::1, 0.0.0.0, [::] unconnected; an IPv6 socket connected to
         ::ffff:127.0.0.1 and one on 2001:db8:0:1:1:1:1:1 connected to 2001:db8::1:0:0:1.

Prints "ready" once every socket is in place.
"""
import socket
import sys


def listener(family, address, v6only=None):
    sock = socket.socket(family, socket.SOCK_STREAM)
    if v6only is not None:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    sock.bind((address, 0))
    sock.listen(16)
    return sock


def connect(family, address, port):
    client = socket.socket(family, socket.SOCK_STREAM)
    client.connect((address, port))
    return client


def datagram(family, address, peer=None, v6only=None):
    sock = socket.socket(family, socket.SOCK_DGRAM)
    if v6only is not None:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    sock.bind((address, 0))
    if peer is not None:
        sock.connect(peer)
    return sock


def main():
    held = []
    v4 = listener(socket.AF_INET, "127.0.0.1")
    v6 = listener(socket.AF_INET6, "::1")
    wild4 = listener(socket.AF_INET, "0.0.0.0")
    dual = listener(socket.AF_INET6, "::", v6only=0)
    v6only = listener(socket.AF_INET6, "::", v6only=1)
    compressed = listener(socket.AF_INET6, "2001:db8::1:0:0:1")
    held += [v4, v6, wild4, dual, v6only, compressed]
    held.append(connect(socket.AF_INET, "127.0.0.1", v4.getsockname()[1]))
    held.append(connect(socket.AF_INET6, "::1", v6.getsockname()[1]))
    held.append(connect(socket.AF_INET6, "2001:db8::1:0:0:1", compressed.getsockname()[1]))
    held.append(connect(socket.AF_INET, "127.0.0.1", dual.getsockname()[1]))
    for server in (v4, v6, compressed, dual):
        held.append(server.accept()[0])

    held.append(datagram(socket.AF_INET, "127.0.0.1"))
    held.append(datagram(socket.AF_INET6, "::1"))
    held.append(datagram(socket.AF_INET, "0.0.0.0"))
    held.append(datagram(socket.AF_INET6, "::", v6only=0))
    held.append(datagram(socket.AF_INET6, "::", peer=("::ffff:127.0.0.1", 9), v6only=0))
    held.append(datagram(socket.AF_INET6, "2001:db8:0:1:1:1:1:1", peer=("2001:db8::1:0:0:1", 9)))
    print("ready", flush=True)
    sys.stdin.read()


main()

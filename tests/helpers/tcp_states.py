#!/usr/bin/env python3
"""Test helper for tests/kernel_serve.rs: holds loopback TCP sockets in known states in the
network namespace it runs in, until its stdin closes (or it is killed).

    tcp_states.py ESTABLISHED HALF_CLOSED

One listener on 127.0.0.1 (LISTEN); ESTABLISHED connections left open (two ESTABLISHED sockets
each); HALF_CLOSED connections whose client shut its sending side (the client FIN_WAIT2, the server's
end CLOSE_WAIT). The client is shut down, not closed: a closed one would be an orphan that the
kernel turns into a time-wait socket, which /proc shows as FIN_WAIT2 and its own state calls
TIME_WAIT. Prints "ready PORT" once every socket is in its state.
"""
import socket
import sys
import time


def main():
    established, half_closed = int(sys.argv[1]), int(sys.argv[2])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    address = listener.getsockname()
    held = [listener]
    for _ in range(established):
        client = socket.create_connection(address)
        server, _ = listener.accept()
        held += [client, server]
    for _ in range(half_closed):
        client = socket.create_connection(address)
        server, _ = listener.accept()
        client.shutdown(socket.SHUT_WR)
        held += [client, server]
    # The FIN of each shut-down client is acknowledged by the kernel at once on loopback; a short
    # wait lets every one land before the test looks.
    time.sleep(0.2)
    print("ready", address[1], flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()

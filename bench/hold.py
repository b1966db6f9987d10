#!/usr/bin/env python3
"""Benchmark setup helper: creates kernel objects and holds them until killed.

    hold.py threads N   a process with N extra threads (all blocked)
    hold.py tcp N       N loopback TCP connections (2N sockets plus one listener)
    hold.py unix N      N AF_UNIX stream socket pairs (2N sockets)

Prints "ready <count>" on stdout once everything exists, then sleeps until SIGTERM.
Sockets are spread over forked workers of CHUNK pairs each, because an unprivileged container
may not raise RLIMIT_NOFILE's hard limit (often 20000) above 2N; on SIGTERM the parent kills
its workers by pid and waits for them, so killing the parent's pid releases everything.
"""
import os
import resource
import signal
import socket
import struct
import sys
import threading


CHUNK = 4000


def raise_fd_limit(needed):
    # Up to the hard limit only: the chunking keeps every worker under it.
    want = needed + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))


def hold_threads(count):
    threading.stack_size(64 * 1024)  # 10k threads at the default 8 MB stack is 80 GB of VM
    stop = threading.Event()
    threads = [threading.Thread(target=stop.wait, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


# SO_LINGER on, timeout 0: a socket closed when its holder is killed is reset instead of
# waiting in TIME_WAIT for a minute, where the next scenario's dumps would still count it.
RESET_ON_CLOSE = struct.pack("ii", 1, 0)


def hold_tcp(count):
    raise_fd_limit(2 * count + 1)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    address = listener.getsockname()
    held = [listener]
    for _ in range(count):
        client = socket.create_connection(address)
        server, _ = listener.accept()
        for sock in (client, server):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_ON_CLOSE)
        held += [client, server]
    return held


def hold_unix(count):
    raise_fd_limit(2 * count)
    return [socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(count)]


def in_workers(make, count, pids):
    """Runs make(chunk) in forked workers, recording each pid as soon as it exists."""
    for start in range(0, count, CHUNK):
        ready_read, ready_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ready_read)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            held = make(min(CHUNK, count - start))
            os.write(ready_write, b"1")
            while held:
                signal.pause()
        pids.append(pid)
        os.close(ready_write)
        if os.read(ready_read, 1) != b"1":
            raise SystemExit(f"worker {pid} failed")
        os.close(ready_read)


def main():
    kind, count = sys.argv[1], int(sys.argv[2])
    workers = []

    def stop(*_):
        for pid in workers:
            os.kill(pid, signal.SIGTERM)
        for pid in workers:
            os.waitpid(pid, 0)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    if kind == "threads":
        held = hold_threads(count)
    else:
        in_workers({"tcp": hold_tcp, "unix": hold_unix}[kind], count, workers)
    print("ready", count, flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()

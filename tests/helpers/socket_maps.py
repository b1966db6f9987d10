#!/usr/bin/env python3
"""Test helper for tests/kernel/map_elem.rs: fills a socket map that bpftool cannot fill
(its values are socket fds of this process), pins it, prints what it put there, one line per
socket then `ready`, and keeps the sockets open until stdin closes; then it unpins the map.

    socket_maps.py sockmap PIN COUNT      BPF_MAP_TYPE_SOCKMAP, slot i = client socket i
    socket_maps.py sockhash PIN COUNT     BPF_MAP_TYPE_SOCKHASH, key 100 + i = client socket i
    socket_maps.py sockmap8 PIN COUNT     as sockmap, with 8-byte values (user space reads
                                          cookies), then one connected UDP socket in slot COUNT
                                          and one end of a unix socketpair in slot COUNT + 1
                                          where the kernel accepts them
    socket_maps.py sockhash8 PIN COUNT    as sockhash, with 8-byte values, UDP and unix as above
                                          (keys 100 + COUNT, 101 + COUNT)
    socket_maps.py sk_storage PIN COUNT   BPF_MAP_TYPE_SK_STORAGE, socket i -> u64 1000 + i,
                                          one connected UDP socket -> u64 1000 + COUNT,
                                          one end of a unix socketpair -> u64 1001 + COUNT,
                                          a bound netlink socket -> u64 1002 + COUNT

Each socket is one end of a loopback TCP connection (or the connected UDP socket); its line
holds the key (slot) or value, the local and remote ports, the socket's inode (fstat of its fd)
its protocol (6 TCP, 17 UDP, 0 unix and netlink) and its family (2, 1 unix, 16 netlink; unix
and netlink sockets have no ports: 0), separated by spaces.
"""
import ctypes
import os
import socket
import struct
import sys

SYS_BPF = 321  # x86_64
BPF_MAP_CREATE, BPF_MAP_UPDATE_ELEM, BPF_OBJ_PIN, BPF_BTF_LOAD = 0, 2, 6, 18
MAP_SOCKMAP, MAP_SOCKHASH, MAP_SK_STORAGE = 15, 18, 24
BPF_F_NO_PREALLOC = 1

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def bpf(cmd, attr: bytes) -> int:
    buf = ctypes.create_string_buffer(attr, 128)
    ret = libc.syscall(SYS_BPF, cmd, buf, 128)
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bpf cmd {cmd}: {os.strerror(err)}")
    return ret


def ptr(buf) -> int:
    return ctypes.addressof(buf)


def btf_two_ints() -> int:
    """Loads a BTF blob with [1] int (4 bytes, signed) and [2] a u64: sk_storage maps need BTF
    ids for their key (int, the socket fd) and value."""
    strings = b"\0int\0u64\0"
    int_kind = 1 << 24
    types = struct.pack("<IIII", 1, int_kind, 4, (1 << 24) | 32)
    types += struct.pack("<IIII", 5, int_kind, 8, 64)
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    blob = ctypes.create_string_buffer(header + types + strings)
    keep.append(blob)
    log = ctypes.create_string_buffer(4096)
    keep.append(log)
    attr = struct.pack("<QQIII", ptr(blob), ptr(log), len(blob.raw) - 1, 4096, 1)
    return bpf(BPF_BTF_LOAD, attr)


def map_create(map_type, key_size, value_size, entries, flags, name, btf=(0, 0, 0)) -> int:
    attr = struct.pack("<IIIIIII16sIIII", map_type, key_size, value_size, entries, flags, 0, 0,
                       name.encode(), 0, btf[0], btf[1], btf[2])
    return bpf(BPF_MAP_CREATE, attr)


def update(map_fd, key: bytes, value: bytes):
    k, v = ctypes.create_string_buffer(key), ctypes.create_string_buffer(value)
    bpf(BPF_MAP_UPDATE_ELEM, struct.pack("<IIQQQ", map_fd, 0, ptr(k), ptr(v), 0))


def pin(fd, path):
    p = ctypes.create_string_buffer(path.encode())
    bpf(BPF_OBJ_PIN, struct.pack("<QII", ptr(p), fd, 0))


keep = []


def main():
    kind, path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(count)
    clients, servers = [], []
    for _ in range(count):
        c = socket.create_connection(listener.getsockname())
        s, _ = listener.accept()
        clients.append(c)
        servers.append(s)
    name = os.path.basename(path)[:15]
    rows = []
    if kind in ("sockmap", "sockhash", "sockmap8", "sockhash8"):
        map_type = MAP_SOCKHASH if kind.startswith("sockhash") else MAP_SOCKMAP
        first_key = 100 if map_type == MAP_SOCKHASH else 0
        wide = kind.endswith("8")
        value_size = 8 if wide else 4
        map_fd = map_create(map_type, 4, value_size, count + 4, 0, name)

        def put(key, sock) -> bool:
            value = struct.pack("<Q" if wide else "<I", sock.fileno())
            try:
                update(map_fd, struct.pack("<I", key), value)
            except OSError:
                return False
            rows.append((key, sock))
            return True

        for i, c in enumerate(clients):
            put(first_key + i, c)
        if wide:
            # A connected UDP socket (Linux 5.7+) and a unix stream socket (5.15+) too, where
            # the kernel takes them: they are read through the udp and unix iterators there.
            udp_server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp_server.bind(("127.0.0.1", 0))
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.connect(udp_server.getsockname())
            unix, unix_peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            keep.extend([udp_server, udp, unix, unix_peer])
            put(first_key + count, udp)
            put(first_key + count + 1, unix)
    elif kind == "sk_storage":
        btf_fd = btf_two_ints()
        map_fd = map_create(MAP_SK_STORAGE, 4, 8, 0, BPF_F_NO_PREALLOC, name, (btf_fd, 1, 2))
        for i, c in enumerate(clients):
            value = 1000 + i
            update(map_fd, struct.pack("<i", c.fileno()), struct.pack("<Q", value))
            rows.append((value, c))
        # A connected UDP socket too: its storage is read through another iterator (udp)
        # where the kernel refuses map-element programs.
        udp_server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp_server.bind(("127.0.0.1", 0))
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.connect(udp_server.getsockname())
        keep.extend([udp_server, udp])
        value = 1000 + count
        update(map_fd, struct.pack("<i", udp.fileno()), struct.pack("<Q", value))
        rows.append((value, udp))
        # And a unix socket (read through the unix iterator there).
        unix, unix_peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        keep.extend([unix, unix_peer])
        update(map_fd, struct.pack("<i", unix.fileno()), struct.pack("<Q", 1001 + count))
        rows.append((1001 + count, unix))
        # And a netlink socket (the netlink iterator).
        netlink = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
        netlink.bind((0, 0))
        keep.append(netlink)
        update(map_fd, struct.pack("<i", netlink.fileno()), struct.pack("<Q", 1002 + count))
        rows.append((1002 + count, netlink))
    else:
        sys.exit(f"unknown kind {kind}")
    pin(map_fd, path)
    try:
        for first, c in rows:
            inode = os.fstat(c.fileno()).st_ino
            if c.family in (socket.AF_UNIX, socket.AF_NETLINK):
                print(first, 0, 0, inode, 0, int(c.family))
                continue
            protocol = 17 if c.type == socket.SOCK_DGRAM else 6
            print(first, c.getsockname()[1], c.getpeername()[1], inode, protocol, 2)
        print("ready", flush=True)
        sys.stdin.read()
    finally:
        os.unlink(path)


if __name__ == "__main__":
    main()

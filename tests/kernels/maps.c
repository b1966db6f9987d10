/* Guarantees: creates, fills and pins one map for each map-element iterator target, so that
 * tests/kernels/guest.sh can query them in a guest that has no bpftool or python (the same maps
 * tests/helpers/socket_maps.py makes for the host's tests):
 *
 *   DIR/kt_hash        BPF_MAP_TYPE_HASH, u32 -> u64: 1 -> 10, 2 -> 20, 3 -> 30
 *   DIR/kt_sockmap     BPF_MAP_TYPE_SOCKMAP, slot 0 = the client end of a loopback TCP connection
 *   DIR/kt_sockmap8    the same with 8-byte values (a lookup from user space answers the socket's
 *                      cookie: readable where the kernel refuses sockmap iterator programs)
 *   DIR/kt_sk_storage  BPF_MAP_TYPE_SK_STORAGE (BTF int -> u64): that client socket -> 1000
 *
 * `maps DIR HASH_ELEMENTS CONNECTIONS` makes bigger ones (bench/fallbacks.sh): keys 1..N in
 * kt_hash (key -> key * 10), and CONNECTIONS loopback connections whose client ends fill slots
 * 0.. of kt_sockmap8 and kt_sk_storage (the i-th -> 1000 + i); kt_sockmap keeps the first only.
 *
 * It prints one line per map, `<name> ok` or `<name> fail <reason>`, then `client <local port>
 * <remote port>` and `ready`, and keeps the sockets (and so the map entries) alive until it is
 * killed. It never removes the pins: the caller does (in a guest, or in a private bpffs).
 * Built statically by tests/kernels.sh: cc -static -O2 -o bpfq-test-maps maps.c
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int map_create(uint32_t type, uint32_t key, uint32_t value, uint32_t entries,
		      uint32_t flags, const char *name, int btf_fd, uint32_t btf_key,
		      uint32_t btf_value)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = type;
	a.key_size = key;
	a.value_size = value;
	a.max_entries = entries;
	a.map_flags = flags;
	strncpy(a.map_name, name, sizeof(a.map_name) - 1);
	if (btf_fd >= 0) {
		a.btf_fd = (uint32_t)btf_fd;
		a.btf_key_type_id = btf_key;
		a.btf_value_type_id = btf_value;
	}
	return bpf(BPF_MAP_CREATE, &a);
}

static int update(int fd, const void *key, const void *value)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_fd = (uint32_t)fd;
	a.key = (uint64_t)(uintptr_t)key;
	a.value = (uint64_t)(uintptr_t)value;
	return bpf(BPF_MAP_UPDATE_ELEM, &a);
}

static int pin(int fd, const char *dir, const char *name)
{
	char path[256];
	union bpf_attr a;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	memset(&a, 0, sizeof(a));
	a.pathname = (uint64_t)(uintptr_t)path;
	a.bpf_fd = (uint32_t)fd;
	return bpf(BPF_OBJ_PIN, &a);
}

/* BTF with [1] int (4 bytes, signed) and [2] u64: an sk_storage map needs BTF ids for its key
 * (the socket fd) and value. */
static int btf_two_ints(void)
{
	static const char strings[] = "\0int\0u64";
	uint32_t types[8] = {
		1, 1u << 24, 4, (1u << 24) | 32,  /* "int": INT, size 4, signed, 32 bits */
		5, 1u << 24, 8, 64,               /* "u64": INT, size 8, 64 bits */
	};
	struct {
		uint16_t magic;
		uint8_t version, flags;
		uint32_t hdr_len, type_off, type_len, str_off, str_len;
		uint32_t types[8];
		char strings[sizeof(strings)];
	} __attribute__((packed)) blob = {
		0xEB9F, 1, 0, 24, 0, sizeof(types), sizeof(types), sizeof(strings), {0}, {0},
	};
	union bpf_attr a;
	memcpy(blob.types, types, sizeof(types));
	memcpy(blob.strings, strings, sizeof(strings));
	memset(&a, 0, sizeof(a));
	a.btf = (uint64_t)(uintptr_t)&blob;
	a.btf_size = sizeof(blob);
	return bpf(BPF_BTF_LOAD, &a);
}

/* One loopback connection to `listener` (bound at `addr`): its client end, or -1. The server end
 * stays open (and so the connection established) until the process exits. */
static int connect_once(int listener, const struct sockaddr_in *addr)
{
	int client = socket(AF_INET, SOCK_STREAM, 0);
	if (client < 0 || connect(client, (const struct sockaddr *)addr, sizeof(*addr)) ||
	    accept(listener, NULL, NULL) < 0)
		return -1;
	return client;
}

static void report(const char *name, int ok)
{
	if (ok)
		printf("%s ok\n", name);
	else
		printf("%s fail %s\n", name, strerror(errno));
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/sys/fs/bpf";
	uint32_t elements = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 3;
	uint32_t connections = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 1;
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);
	struct rlimit files;
	int listener, client = -1, fd, fd8, btf, ok;
	uint32_t key, slot = 0, cfd, i;
	uint64_t value, cfd64;
	int32_t sk_key;
	int *clients;

	/* Two descriptors a connection: as many as the hard limit allows. */
	if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
		files.rlim_cur = files.rlim_max;
		setrlimit(RLIMIT_NOFILE, &files);
	}
	clients = calloc(connections ? connections : 1, sizeof(*clients));

	/* Loopback TCP connections: their client ends go into the socket maps. */
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listener = socket(AF_INET, SOCK_STREAM, 0);
	ok = clients && connections > 0 && listener >= 0 &&
	     !bind(listener, (struct sockaddr *)&addr, sizeof(addr)) && !listen(listener, 1) &&
	     !getsockname(listener, (struct sockaddr *)&addr, &len);
	for (i = 0; ok && i < connections; i++)
		ok = (clients[i] = connect_once(listener, &addr)) >= 0;
	if (!ok) {
		printf("socket fail %s\n", strerror(errno));
		return 1;
	}
	client = clients[0];

	fd = map_create(BPF_MAP_TYPE_HASH, 4, 8, elements, 0, "kt_hash", -1, 0, 0);
	for (key = 1; fd >= 0 && key <= elements; key++) {
		value = key * 10;
		if (update(fd, &key, &value))
			fd = -1;
	}
	report("hash", fd >= 0 && pin(fd, dir, "kt_hash") == 0);

	fd = map_create(BPF_MAP_TYPE_SOCKMAP, 4, 4, 2, 0, "kt_sockmap", -1, 0, 0);
	cfd = (uint32_t)client;
	report("sockmap", fd >= 0 && update(fd, &slot, &cfd) == 0 && pin(fd, dir, "kt_sockmap") == 0);

	btf = btf_two_ints();
	fd = btf < 0 ? -1
		     : map_create(BPF_MAP_TYPE_SK_STORAGE, 4, 8, 0, BPF_F_NO_PREALLOC,
				  "kt_sk_storage", btf, 1, 2);
	fd8 = map_create(BPF_MAP_TYPE_SOCKMAP, 4, 8, connections < 2 ? 2 : connections, 0,
			 "kt_sockmap8", -1, 0, 0);
	for (slot = 0; slot < connections; slot++) {
		cfd64 = (uint64_t)clients[slot];
		if (fd8 >= 0 && update(fd8, &slot, &cfd64))
			fd8 = -1;
		sk_key = clients[slot];
		value = 1000 + slot;
		if (fd >= 0 && update(fd, &sk_key, &value))
			fd = -1;
	}
	report("sockmap8", fd8 >= 0 && pin(fd8, dir, "kt_sockmap8") == 0);
	report("sk_storage", fd >= 0 && pin(fd, dir, "kt_sk_storage") == 0);

	len = sizeof(addr);
	getsockname(client, (struct sockaddr *)&addr, &len);
	printf("client %u", ntohs(addr.sin_port));
	len = sizeof(addr);
	getpeername(client, (struct sockaddr *)&addr, &len);
	printf(" %u\nready\n", ntohs(addr.sin_port));
	fflush(stdout);
	for (;;)
		pause();
}

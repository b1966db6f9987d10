// Benchmark anchor: the "one-shot libbpf" path. Opens the clang-built
// iterator object, loads it, attaches it, reads the whole iterator output
// and discards it, then tears everything down, like a single CLI run would.
// Usage: oneshot task_iter.bpf.o
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int read_all_and_discard(int iter_fd)
{
	static char buf[64 * 1024];
	for (;;) {
		ssize_t n = read(iter_fd, buf, sizeof(buf));
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s OBJECT.bpf.o\n", argv[0]);
		return 2;
	}

	int status = 1;
	struct bpf_link *link = NULL;
	int iter_fd = -1;

	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "oneshot: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "oneshot: load: %s\n", strerror(errno));
		goto out;
	}
	struct bpf_program *prog = bpf_object__next_program(obj, NULL);
	if (!prog) {
		fprintf(stderr, "oneshot: object has no program\n");
		goto out;
	}
	link = bpf_program__attach_iter(prog, NULL);
	if (!link) {
		fprintf(stderr, "oneshot: attach: %s\n", strerror(errno));
		goto out;
	}
	iter_fd = bpf_iter_create(bpf_link__fd(link));
	if (iter_fd < 0) {
		fprintf(stderr, "oneshot: iter create: %s\n", strerror(errno));
		goto out;
	}
	int err = read_all_and_discard(iter_fd);
	if (err) {
		fprintf(stderr, "oneshot: read: %s\n", strerror(-err));
		goto out;
	}
	status = 0;
out:
	if (iter_fd >= 0)
		close(iter_fd);
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return status;
}

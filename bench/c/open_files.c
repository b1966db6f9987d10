// Holds FILES open files spread over DIRS directories under ROOT, each also mapped (one page,
// read-only) so the process has one file-backed VMA per file: the objects of bench/fallbacks.sh's
// task_file and task_vma rows. Prints `ready` once everything is open, then waits to be killed;
// the caller removes ROOT. Built statically for the guest: cc -static -O2 open_files.c
//
// Usage: open_files ROOT DIRS FILES
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct rlimit files;
	char path[4096];
	int dirs, count, i, fd;

	if (argc != 4 || (dirs = atoi(argv[2])) < 1 || (count = atoi(argv[3])) < 0) {
		fprintf(stderr, "usage: open_files ROOT DIRS FILES\n");
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
		files.rlim_cur = files.rlim_max;
		setrlimit(RLIMIT_NOFILE, &files);
	}
	for (i = 0; i < dirs; i++) {
		snprintf(path, sizeof(path), "%s/directory_%d", argv[1], i);
		if (mkdir(path, 0755) && errno != EEXIST) {
			fprintf(stderr, "mkdir %s: %s\n", path, strerror(errno));
			return 1;
		}
	}
	for (i = 0; i < count; i++) {
		snprintf(path, sizeof(path), "%s/directory_%d/file_%d.txt", argv[1], i % dirs, i);
		fd = open(path, O_RDWR | O_CREAT, 0644);
		if (fd < 0 || write(fd, "x", 1) != 1 ||
		    mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED) {
			fprintf(stderr, "%s: %s\n", path, strerror(errno));
			return 1;
		}
	}
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}

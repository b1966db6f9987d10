// Benchmark anchor: the cheapest /proc reader for "every thread's pid and comm".
// Walks /proc/PID/task/TID/comm with openat/read (no stdio, no sorting) and
// writes "tid comm" lines to stdout, as a hand-written C tool would.
// Usage: proc_tasks
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char out[1 << 16];
static size_t out_len;

static void flush_out(void)
{
	if (out_len && write(1, out, out_len) < 0)
		exit(1);
	out_len = 0;
}

static void emit(const char *tid, const char *comm, size_t comm_len)
{
	size_t tid_len = strlen(tid);
	if (out_len + tid_len + comm_len + 2 > sizeof(out))
		flush_out();
	memcpy(out + out_len, tid, tid_len);
	out_len += tid_len;
	out[out_len++] = ' ';
	memcpy(out + out_len, comm, comm_len); // comm ends with its own '\n'
	out_len += comm_len;
}

int main(void)
{
	DIR *proc = opendir("/proc");
	if (!proc)
		return 1;
	struct dirent *p;
	while ((p = readdir(proc))) {
		if (p->d_name[0] < '0' || p->d_name[0] > '9')
			continue;
		char path[64];
		snprintf(path, sizeof(path), "/proc/%s/task", p->d_name);
		int task_dir_fd = open(path, O_RDONLY | O_DIRECTORY);
		if (task_dir_fd < 0)
			continue; // the process exited meanwhile
		DIR *tasks = fdopendir(task_dir_fd);
		struct dirent *t;
		while (tasks && (t = readdir(tasks))) {
			if (t->d_name[0] < '0' || t->d_name[0] > '9')
				continue;
			char comm_path[64];
			snprintf(comm_path, sizeof(comm_path), "%s/comm", t->d_name);
			int fd = openat(task_dir_fd, comm_path, O_RDONLY);
			if (fd < 0)
				continue;
			char comm[32];
			ssize_t n = read(fd, comm, sizeof(comm));
			close(fd);
			if (n > 0)
				emit(t->d_name, comm, (size_t)n);
		}
		if (tasks)
			closedir(tasks);
	}
	closedir(proc);
	flush_out();
	return 0;
}

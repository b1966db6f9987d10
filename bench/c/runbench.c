// Benchmark timing harness: runs several commands round-robin (A, B, C, A,
// B, C, ...) and measures each run the same way, so process start-up costs
// count equally for every tool.
//
// Each run: posix_spawnp with stdout on /dev/null, wall time from
// CLOCK_MONOTONIC around spawn..wait4, peak RSS from wait4's ru_maxrss (KiB),
// CPU time (user + system) from wait4's ru_utime + ru_stime: on a machine
// shared with other work, CPU time moves far less than wall time.
// Note: the kernel folds the pre-exec address space into ru_maxrss, so the
// harness's own RSS (printed as "harness_rss_kb") is a floor for every row.
//
// Usage: runbench ROUNDS WARMUP SAMPLES_FILE LABEL CMD [ARG...] [:: LABEL CMD [ARG...]]...
// Prints one summary line per command on stdout:
//   LABEL <TAB> median_ms <TAB> p10_ms <TAB> p90_ms <TAB> median_rss_kb <TAB> runs <TAB> median_cpu_ms
// and every sample to SAMPLES_FILE as: LABEL round wall_ns maxrss_kb cpu_ns.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_COMMANDS 16

struct command {
	const char *label;
	char **argv;
	double *wall_ms;
	long *rss_kb;
	double *cpu_ms;
};

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int compare_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

// Nearest-rank percentile on a sorted array.
static double percentile_double(const double *sorted, int n, double p)
{
	int rank = (int)(p * (n - 1) + 0.5);
	return sorted[rank];
}

static double median_double(const double *sorted, int n)
{
	return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

static long median_long(const long *sorted, int n)
{
	return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double timeval_ns(struct timeval tv)
{
	return (double)tv.tv_sec * 1e9 + (double)tv.tv_usec * 1e3;
}

// Runs one command once; returns 0 on success and fills wall time, RSS and CPU time.
static int run_once(const struct command *cmd, double *wall_ns, long *rss_kb, double *cpu_ns)
{
	posix_spawn_file_actions_t actions;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);

	pid_t pid;
	double start = now_ns();
	int err = posix_spawnp(&pid, cmd->argv[0], &actions, NULL, cmd->argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	if (err) {
		fprintf(stderr, "runbench: cannot start %s: %s\n", cmd->argv[0], strerror(err));
		return -1;
	}

	int status;
	struct rusage usage;
	pid_t waited;
	do {
		waited = wait4(pid, &status, 0, &usage);
	} while (waited < 0 && errno == EINTR);
	double end = now_ns();
	if (waited < 0) {
		fprintf(stderr, "runbench: wait4: %s\n", strerror(errno));
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "runbench: [%s] failed (status 0x%x)\n", cmd->label, status);
		return -1;
	}
	*wall_ns = end - start;
	*rss_kb = usage.ru_maxrss;
	*cpu_ns = timeval_ns(usage.ru_utime) + timeval_ns(usage.ru_stime);
	return 0;
}

static long own_rss_kb(void)
{
	struct rusage usage;
	getrusage(RUSAGE_SELF, &usage);
	return usage.ru_maxrss;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr,
			"usage: %s ROUNDS WARMUP SAMPLES_FILE LABEL CMD [ARG...] [:: LABEL CMD [ARG...]]...\n",
			argv[0]);
		return 2;
	}
	int rounds = atoi(argv[1]);
	int warmup = atoi(argv[2]);
	if (rounds < 1 || warmup < 0) {
		fprintf(stderr, "runbench: ROUNDS must be >= 1 and WARMUP >= 0\n");
		return 2;
	}
	FILE *samples = fopen(argv[3], "w");
	if (!samples) {
		fprintf(stderr, "runbench: %s: %s\n", argv[3], strerror(errno));
		return 2;
	}

	// Split the rest of argv on "::" into commands; argv itself holds the
	// strings, so we only NULL-terminate each command in place.
	struct command commands[MAX_COMMANDS];
	int command_count = 0;
	int i = 4;
	while (i < argc) {
		if (command_count == MAX_COMMANDS) {
			fprintf(stderr, "runbench: at most %d commands\n", MAX_COMMANDS);
			return 2;
		}
		struct command *cmd = &commands[command_count];
		cmd->label = argv[i++];
		cmd->argv = &argv[i];
		while (i < argc && strcmp(argv[i], "::") != 0)
			i++;
		if (&argv[i] == cmd->argv) {
			fprintf(stderr, "runbench: command [%s] is empty\n", cmd->label);
			return 2;
		}
		if (i < argc)
			argv[i++] = NULL;
		cmd->wall_ms = calloc(rounds, sizeof(double));
		cmd->rss_kb = calloc(rounds, sizeof(long));
		cmd->cpu_ms = calloc(rounds, sizeof(double));
		if (!cmd->wall_ms || !cmd->rss_kb || !cmd->cpu_ms) {
			fprintf(stderr, "runbench: out of memory\n");
			return 2;
		}
		command_count++;
	}

	for (int round = -warmup; round < rounds; round++) {
		for (int c = 0; c < command_count; c++) {
			double wall_ns, cpu_ns;
			long rss_kb;
			if (run_once(&commands[c], &wall_ns, &rss_kb, &cpu_ns))
				return 1;
			if (round < 0)
				continue;
			commands[c].wall_ms[round] = wall_ns / 1e6;
			commands[c].rss_kb[round] = rss_kb;
			commands[c].cpu_ms[round] = cpu_ns / 1e6;
			fprintf(samples, "%s\t%d\t%.0f\t%ld\t%.0f\n", commands[c].label, round, wall_ns,
				rss_kb, cpu_ns);
		}
	}
	fclose(samples);

	for (int c = 0; c < command_count; c++) {
		struct command *cmd = &commands[c];
		qsort(cmd->wall_ms, rounds, sizeof(double), compare_double);
		qsort(cmd->rss_kb, rounds, sizeof(long), compare_long);
		qsort(cmd->cpu_ms, rounds, sizeof(double), compare_double);
		printf("%s\t%.3f\t%.3f\t%.3f\t%ld\t%d\t%.3f\n", cmd->label,
		       median_double(cmd->wall_ms, rounds),
		       percentile_double(cmd->wall_ms, rounds, 0.10),
		       percentile_double(cmd->wall_ms, rounds, 0.90),
		       median_long(cmd->rss_kb, rounds), rounds,
		       median_double(cmd->cpu_ms, rounds));
	}
	printf("harness_rss_kb\t%ld\n", own_rss_kb());
	return 0;
}

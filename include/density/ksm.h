/* ksm: the host's KSM state (/sys/kernel/mm/ksm, every file that exists:
 * features are detected by presence, never assumed) and a guest's merging
 * (/proc/PID/ksm_stat; merging pages from ksm_merging_pages on kernels
 * before 6.4, whose ksm_stat lacks them). */
#pragma once

#include "density/snapshot.h"

/* Parse one sysfs value: a number, or a word list with the selected word in
 * brackets ("[none] scan-time"). Return: 0 or -EINVAL (empty). */
int ksm_value_parse(const char *name, const char *buf, KsmValue *ret);

/* Read every regular file in sys_root/kernel/mm/ksm. A missing directory
 * gives ret->present = false and returns 0; files without any read
 * permission (write-only knobs) and files that vanish are skipped.
 * Return: 0, or -errno when the directory or a file in it exists but cannot
 * be read (-EINVAL: a file is empty); ret is then untouched. */
int ksm_read(const char *sys_root, KsmSample *ret);

typedef struct KsmProcess {
        bool has_merging;
        uint64_t merging_pages;
        bool has_profit;
        int64_t profit_bytes;
} KsmProcess;

/* Parse /proc/PID/ksm_stat. Return: 0 or -EINVAL (no known field). */
int ksm_stat_parse(const char *buf, KsmProcess *ret);

/* Read a process's KSM figures (merging_pages is a page count: the caller
 * converts it with the host's page size).
 * @failed_file: may be NULL; on a failure other than -ENOENT/-ESRCH it is set
 *     to the file below proc_root/PID that exists but could not be read or
 *     parsed ("ksm_stat" or "ksm_merging_pages")
 * Return: 0, -ENOENT (no such process, or a kernel without per-process KSM
 * files), -ESRCH (the process exited while we read), or -errno. */
int ksm_process_read(const char *proc_root, pid_t pid, KsmProcess *ret, const char **failed_file);

/* Parse /proc/PID/schedstat: its first field, nanoseconds on CPU, as usec.
 * Return: 0 or -EINVAL/-ERANGE. */
int schedstat_parse(const char *buf, uint64_t *ret_usec);

/* Parse /proc/PID/stat: the command name (may be NULL) and utime + stime
 * (fields 14 and 15, clock ticks of 1/clk_tck s) in usec.
 * Return: 0 or -EINVAL. */
int pid_stat_parse(const char *buf, long clk_tck, char *ret_comm, size_t comm_size, uint64_t *ret_cpu_usec);

/* Find the ksmd kernel thread below proc_root: named "ksmd", without a
 * command line. Return: 0, -ENOENT (no such thread: a kernel without KSM),
 * or -errno. */
int ksmd_find(const char *proc_root, pid_t *ret);

/* ksmd's CPU time in usec: schedstat where the kernel has it, else utime +
 * stime. Return: 0, -ESRCH (pid is no longer ksmd: find it again), or
 * -errno. */
int ksmd_cpu_read(const char *proc_root, pid_t pid, uint64_t *ret_usec);

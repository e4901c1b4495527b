/* cgroup: the VMs' memory cgroup (the budget all guests share) and each
 * guest's own cgroup, on cgroup v1 (memory/machine) and v2 (machine.slice).
 * The cgroup mount is an injectable root ("/sys/fs/cgroup" on real hosts). */
#pragma once

#include "density/snapshot.h"

/* Find and read the VMs' cgroup. Return: 0 with ret->version 1 or 2,
 * -ENOENT when no VMs' cgroup exists yet (no guest ever ran), or -errno when
 * one of its files exists but cannot be read or parsed (an unreadable limit
 * must not pass for "no limit"). */
int cgroup_machine_read(const char *cgroup_root, CgroupSample *ret);

/**
 * cgroup_pid_memory_dir() - the memory cgroup directory holding a guest.
 * @proc_root: where /proc is
 * @pid: the guest's qemu process
 * @ret: path relative to the cgroup root, e.g. "memory/machine/qemu-1-a.libvirt-qemu"
 *       (libvirt's per-thread sub-groups "emulator", "vcpuN", "libvirt" stripped)
 * @ret_version: 1 or 2
 *
 * Return: 0, -ENOENT if the process vanished or has no memory cgroup, or -errno.
 */
int cgroup_pid_memory_dir(const char *proc_root, pid_t pid, char *ret, size_t size, int *ret_version);

/* The parsing half of cgroup_pid_memory_dir(): /proc/PID/cgroup text (cut
 * up in place). Return: as above, without the process errors. */
int cgroup_pid_parse(char *buf, char *ret, size_t size, int *ret_version);

/* Whether a cgroup directory is one guest's own (libvirt's
 * "qemu-ID-NAME.libvirt-qemu" on v1, "machine-qemu\x2dID\x2dNAME.scope" on
 * v2), not a cgroup many guests share (libvirtd.service when libvirt runs
 * without cgroup support, or the root). */
bool cgroup_is_guest_dir(const char *dir);

/* Parse memory.numa_stat. v1 counts pages ("hierarchical_total=" or
 * "total="), converted with page_size (bytes); v2 counts bytes (anon + file
 * per node). Nodes with 0 bytes are left out. Return: 0, -EINVAL, or -E2BIG
 * (more nodes than max); on failure ret may hold partial figures, ret_n is
 * untouched. */
int cgroup_numa_stat_parse(const char *buf, int version, size_t page_size, GuestNodeBytes *ret, size_t max,
                           size_t *ret_n);

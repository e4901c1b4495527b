/* cpulist: the kernel's CPU / NUMA node list syntax ("0-3,8,10-11"), as
 * sysfs prints it (node cpulists, cpuset.cpus) and as policies and the
 * hypervisor actions take it. Pure: no I/O, no libvirt.
 *
 * Bitmaps are libvirt's cpumap layout, which is also the kernel's: bit i
 * is bit (i % 8) of byte i / 8, lowest number in the least significant bit.
 *
 * Syntax accepted (as the kernel's bitmap_parselist()): items separated by
 * runs of ',' and white space (so a trailing newline is fine); an item is
 * "N", "A-B" (A <= B), or "A-B:U/G" (of each group of G numbers starting
 * at A, the first U, up to B; 0 < U <= G). Numbers are decimal. An empty
 * list is the empty set (a memory-only node's cpulist is "\n"). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Bytes a bitmap of nbits numbers takes. */
#define CPULIST_MAP_BYTES(nbits) (((nbits) + 7) / 8)

/**
 * cpulist_parse() - parse a list into a bitmap.
 * @s: the list (NUL-terminated)
 * @map: CPULIST_MAP_BYTES(@nbits) bytes; every bit is written on success
 *     (bits of numbers not in the list cleared); untouched on failure
 * @nbits: numbers the map holds (0 .. nbits-1)
 * @ret_count: how many numbers the list names (may be NULL)
 *
 * Return: 0; -EINVAL for bad syntax; -ERANGE for a number >= @nbits.
 */
int cpulist_parse(const char *s, uint8_t *map, size_t nbits, size_t *ret_count);

/**
 * cpulist_format() - write a bitmap as a list of ranges ("0-3,8"), the form
 * sysfs and libvirt print; the empty set is "".
 * @map: CPULIST_MAP_BYTES(@nbits) bytes
 * @nbits: numbers the map holds
 * @buf: filled with the NUL-terminated list; untouched on failure
 * @size: size of @buf
 *
 * Return: 0, or -ENOBUFS if the list does not fit.
 */
int cpulist_format(const uint8_t *map, size_t nbits, char *buf, size_t size);

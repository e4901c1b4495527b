/* cpulist: see include/density/cpulist.h */
#include "density/cpulist.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool cpulist_is_separator(char c) {
        return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* A decimal number; saturates at SIZE_MAX (any such number is out of
 * range anyway, and the syntax check goes on). */
static int cpulist_number(const char **p, size_t *ret) {
        const char *s = *p;
        if (*s < '0' || *s > '9')
                return -EINVAL;
        size_t v = 0;
        for (; *s >= '0' && *s <= '9'; s++) {
                size_t d = (size_t) (*s - '0');
                v = v > (SIZE_MAX - d) / 10 ? SIZE_MAX : v * 10 + d;
        }
        *p = s;
        *ret = v;
        return 0;
}

static void cpulist_set(uint8_t *map, size_t first, size_t last) {
        for (size_t i = first; i <= last; i++)
                map[i / 8] |= (uint8_t) (1u << (i % 8));
}

/* One pass over the list: checks all of it (a syntax error anywhere wins
 * over a number out of range); sets bits only when map is not NULL, so a
 * first pass with NULL leaves the caller's map untouched on failure. */
static int cpulist_walk(const char *s, uint8_t *map, size_t nbits) {
        int r = 0;
        for (;;) {
                while (cpulist_is_separator(*s))
                        s++;
                if (*s == '\0')
                        return r;

                size_t a, b, used = 1, group = 1;
                bool strided = false;
                if (cpulist_number(&s, &a) < 0)
                        return -EINVAL;
                b = a;
                if (*s == '-') {
                        s++;
                        if (cpulist_number(&s, &b) < 0)
                                return -EINVAL;
                        if (*s == ':') {
                                s++;
                                if (cpulist_number(&s, &used) < 0 || *s != '/')
                                        return -EINVAL;
                                s++;
                                if (cpulist_number(&s, &group) < 0)
                                        return -EINVAL;
                                strided = true;
                        }
                }
                if (*s != '\0' && !cpulist_is_separator(*s))
                        return -EINVAL;
                if (a > b || (strided && (used == 0 || group == 0 || used > group)))
                        return -EINVAL;
                if (b >= nbits) {
                        r = -ERANGE;
                        continue;
                }
                if (!map)
                        continue;
                if (!strided) {
                        cpulist_set(map, a, b);
                        continue;
                }
                for (size_t start = a;;) {
                        size_t last = used - 1 > b - start ? b : start + used - 1;
                        cpulist_set(map, start, last);
                        if (group > b - start)
                                break;
                        start += group;
                }
        }
}

int cpulist_parse(const char *s, uint8_t *map, size_t nbits, size_t *ret_count) {
        if (!s)
                return -EINVAL;
        int r = cpulist_walk(s, NULL, nbits);
        if (r < 0)
                return r;
        memset(map, 0, CPULIST_MAP_BYTES(nbits));
        (void) cpulist_walk(s, map, nbits);
        if (ret_count) {
                size_t n = 0;
                for (size_t i = 0; i < CPULIST_MAP_BYTES(nbits); i++)
                        n += (size_t) __builtin_popcount(map[i]);
                *ret_count = n;
        }
        return 0;
}

static bool cpulist_bit(const uint8_t *map, size_t i) {
        return map[i / 8] & (1u << (i % 8));
}

/* Write the list to buf (NULL: only measure). Return: its length. */
static size_t cpulist_render(const uint8_t *map, size_t nbits, char *buf, size_t size) {
        size_t len = 0;
        for (size_t i = 0; i < nbits; i++) {
                if (!cpulist_bit(map, i))
                        continue;
                size_t j = i;
                while (j + 1 < nbits && cpulist_bit(map, j + 1))
                        j++;
                char item[64];
                int k = j == i ? snprintf(item, sizeof(item), "%s%zu", len ? "," : "", i)
                               : snprintf(item, sizeof(item), "%s%zu-%zu", len ? "," : "", i, j);
                if (buf && len + (size_t) k < size)
                        memcpy(buf + len, item, (size_t) k);
                len += (size_t) k;
                i = j;
        }
        if (buf && len < size)
                buf[len] = '\0';
        return len;
}

int cpulist_format(const uint8_t *map, size_t nbits, char *buf, size_t size) {
        if (cpulist_render(map, nbits, NULL, 0) >= size)
                return -ENOBUFS;
        (void) cpulist_render(map, nbits, buf, size);
        return 0;
}

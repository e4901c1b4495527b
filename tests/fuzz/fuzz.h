/* fuzz: one libFuzzer target per parser (fuzz-<name>.c, each defining
 * LLVMFuzzerTestOneInput). Built with -Dfuzz=true (clang, libFuzzer);
 * in every build each target is also linked with fuzz-main.c, which runs
 * the checked-in corpus (tests/fuzz/corpus/<name>) through it once: the
 * seeds and every crash ever found stay regression tests. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a NUL-terminated string (malloc'd; an embedded NUL ends it,
 * as it would in a file read with read_file_at()). NULL: out of memory. */
static inline char *fuzz_string(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (s) {
                memcpy(s, data, size);
                s[size] = '\0';
        }
        return s;
}

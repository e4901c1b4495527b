/* fuzz-main: runs each file named on the command line (or each file in a
 * directory named there) through the target once, without libFuzzer: the
 * corpus as a regression test in every build. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "density/util.h"
#include "fuzz.h"

static int run_file(const char *path) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = read_file_at(NULL, path, &buf, &len);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(-r));
                return 1;
        }
        LLVMFuzzerTestOneInput((const uint8_t *) buf, len);
        return 0;
}

int main(int argc, char **argv) {
        size_t n = 0;
        int bad = 0;
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        return 1;
                }
                if (!S_ISDIR(st.st_mode)) {
                        bad |= run_file(argv[i]);
                        n++;
                        continue;
                }
                _cleanup_closedir_ DIR *d = opendir(argv[i]);
                struct dirent *de;
                while (d && (de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        char path[4096];
                        snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
                        bad |= run_file(path);
                        n++;
                }
        }
        fprintf(stderr, "%zu inputs run\n", n);
        return bad || n == 0;
}

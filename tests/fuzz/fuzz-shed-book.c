/* Fuzz target: the shed controller's book (StateDirectory=/shed.json). */
#include "density/shed.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_string(data, size);
        if (!s)
                return 0;
        ShedBook b = { 0 };
        char err[256];
        if (shed_book_parse(s, &b, err, sizeof(err)) == 0) {
                char *again = NULL;
                if (shed_book_format(&b, &again) == 0)
                        free(again);
                shed_book_clear(&b);
        }
        free(s);
        return 0;
}

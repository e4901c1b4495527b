/* Fuzz target: a control socket request with its arguments (control_request_parse). */
#include "density/control.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_string(data, size);
        if (!s)
                return 0;
        ControlRequest req;
        char err[256];
        if (control_request_parse(s, &req, err, sizeof(err)) == 0) {
                char *again = NULL;
                if (control_request_format(&req, &again) == 0)
                        free(again);
        }
        free(s);
        return 0;
}

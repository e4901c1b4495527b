/* Fuzz target: a line of densityd's recording (StateDirectory=/record.jsonl),
 * as densityctl simulate reads it; what parses must format again. */
#include "density/record.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_string(data, size);
        if (!s)
                return 0;
        RecordTick t;
        char err[512];
        if (record_parse(s, &t, err, sizeof(err)) == 0) {
                char *again = NULL;
                if (record_format(t.tick, t.first_action_id, &t.snap, &t.plan, &again, NULL) == 0)
                        free(again);
                record_tick_clear(&t);
        }
        free(s);
        return 0;
}

/* controller: see include/density/controller.h */
#include "density/controller.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "density/util.h"

void controller_status_set(ControllerStatus *c, const char *state, uint64_t now_usec, const char *fmt, ...) {
        if (strcmp(c->state, state) != 0) {
                c->since_usec = now_usec;
                strscpy(c->state, sizeof(c->state), state);
        }
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
        va_end(ap);
}

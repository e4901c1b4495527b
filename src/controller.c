/* controller: see include/density/controller.h */
#include "density/controller.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "density/balloon-controller.h"
#include "density/ksm-controller.h"
#include "density/numa-controller.h"
#include "density/shed-controller.h"
#include "density/util.h"

const Controller *const controllers_builtin[] = { &ksm_controller, &balloon_controller, &numa_controller,
                                                   &shed_controller };
const size_t controllers_builtin_n = ELEMENTSOF(controllers_builtin);

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

/* balloon: see include/density/balloon.h */
#include "density/balloon.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "density/class.h"
#include "density/meminfo.h"
#include "density/util.h"

#define MIB (1024.0 * 1024.0)

int balloon_capacity(const HostSample *h, uint64_t *ret_capacity_bytes, uint64_t *ret_use_bytes,
                     const char **ret_what) {
        const CgroupSample *c = &h->cgroup;
        const MeminfoSample *m = &h->mem;
        if (c->version > 0 && c->has_limit && c->limit_bytes > 0 &&
            (m->mem_total_bytes == 0 || c->limit_bytes < m->mem_total_bytes)) {
                *ret_capacity_bytes = c->limit_bytes;
                *ret_use_bytes = c->usage_bytes;
                *ret_what = "the VMs' cgroup limit";
                return 0;
        }
        uint64_t available = meminfo_available_bytes(m);
        if (m->mem_total_bytes == 0 || available > m->mem_total_bytes)
                return -ENODATA;
        *ret_capacity_bytes = m->mem_total_bytes;
        *ret_use_bytes = m->mem_total_bytes - available;
        *ret_what = "host memory";
        return 0;
}

static uint64_t sub_sat(uint64_t a, uint64_t b) {
        return a > b ? a - b : 0;
}

__attribute__((format(printf, 3, 4))) static void say(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, size, fmt, ap);
        va_end(ap);
}

void balloon_judge(const GuestSample *g, const Policy *p, const BalloonGuest *prev, uint64_t now_usec,
                   BalloonJudgement *ret) {
        const PolicyBalloon *b = &p->balloon;
        const PolicyClass *c = class_of(p, g);
        const uint32_t busy = 1u << ACTION_BALLOON | 1u << ACTION_SAVE | 1u << ACTION_RESTORE | 1u << ACTION_DESTROY;
        BalloonJudgement j = {};

        j.maximum_bytes = g->balloon_maximum_bytes;
        j.actual_bytes = g->balloon_actual_bytes;
        if (!g->has_balloon || j.maximum_bytes == 0)
                say(j.why_not, sizeof(j.why_not), "the hypervisor gives no balloon figures");
        else if (!g->facts.known)
                say(j.why_not, sizeof(j.why_not), "its domain XML is not read yet%s%s", g->facts.error[0] ? ": " : "",
                    g->facts.error);
        else if (!g->facts.has_balloon)
                say(j.why_not, sizeof(j.why_not), "it has no balloon device");
        else if (g->actions_in_flight & busy)
                say(j.why_not, sizeof(j.why_not), "an action is in flight for it");
        else if (g->stale)
                say(j.why_not, sizeof(j.why_not), "its stats are stale (no fresh report for StaleAfter=)");
        else if (!g->has_usable)
                say(j.why_not, sizeof(j.why_not), "it reports no usable memory (stats off, or no balloon driver)");
        else
                j.eligible = true;

        if (j.maximum_bytes > 0) {
                j.free_target_bytes = policy_percent_bytes(j.maximum_bytes, b->guest_free_target_percent);
                j.floor_bytes = policy_size_bytes(&c->floor, j.maximum_bytes);
                if (j.floor_bytes > j.maximum_bytes)
                        j.floor_bytes = j.maximum_bytes;
                j.step_bytes = policy_step_bytes(&b->step_max, j.maximum_bytes);
                if (j.step_bytes < BALLOON_GRAIN_BYTES)
                        j.step_bytes = BALLOON_GRAIN_BYTES;
        }
        if (g->has_usable) {
                /* What the guest holds of its balloon size and cannot give:
                 * all but its usable memory. Not its total less usable: the
                 * memory its kernel reserved at boot is outside its total
                 * (about 50 MiB of a 256 MiB testbed guest) but inside the
                 * balloon size all the same; and with deflate-on-OOM the
                 * total counts the balloon's own pages. */
                j.used_bytes = sub_sat(j.actual_bytes, g->usable_bytes);
                uint64_t need = j.used_bytes + j.free_target_bytes +
                                policy_percent_bytes(j.maximum_bytes, b->dead_band_percent);
                j.lower_bytes = need > j.floor_bytes ? need : j.floor_bytes;
                if (j.lower_bytes > j.maximum_bytes)
                        j.lower_bytes = j.maximum_bytes;
        }
        if (!j.eligible) {
                *ret = j;
                return;
        }
        if (g->usable_bytes < j.free_target_bytes) {
                j.pressured = true;
                say(j.pressure, sizeof(j.pressure), "usable %.0f MiB, below its free target %.0f MiB",
                    (double) g->usable_bytes / MIB, (double) j.free_target_bytes / MIB);
        } else if (prev && prev->counters_rising) {
                j.pressured = true;
                strscpy(j.pressure, sizeof(j.pressure), prev->counters_why);
        }
        j.recently_pressured =
                j.pressured ||
                (prev && prev->pressured_usec &&
                 (now_usec < prev->pressured_usec || now_usec - prev->pressured_usec < BALLOON_PRESSURE_HOLD_USEC));
        *ret = j;
}

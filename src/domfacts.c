/* domfacts: see include/density/domfacts.h */
#include "density/domfacts.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlversion.h>

#include "density/util.h"

/* libvirt's own limit on a domain XML is far below this (its RPC strings
 * are at most 4 MiB); anything bigger is not from libvirt. */
#define DOMFACTS_XML_MAX_BYTES (16u * 1024 * 1024)
/* How much of a bad value an error message quotes. */
#define DOMFACTS_QUOTE_MAX 40

/* libxml2 prints errors to stderr unless told otherwise; these handlers
 * are per thread (libxml2's error globals are thread-local), so they are
 * set on every call, in the calling thread. */
#if LIBXML_VERSION >= 21200
static void domfacts_silent_structured(void *userdata, const xmlError *error) {
#else
static void domfacts_silent_structured(void *userdata, xmlErrorPtr error) {
#endif
        (void) userdata;
        (void) error;
}

static void domfacts_silent_generic(void *userdata, const char *msg, ...) {
        (void) userdata;
        (void) msg;
}

static pthread_once_t domfacts_once = PTHREAD_ONCE_INIT;

static void domfacts_init(void) {
        xmlInitParser();
}

static void domfacts_silence(void) {
        (void) pthread_once(&domfacts_once, domfacts_init);
        xmlSetStructuredErrorFunc(NULL, domfacts_silent_structured);
        xmlSetGenericErrorFunc(NULL, domfacts_silent_generic);
}

/* Copy untrusted text for a message: printable ASCII only, bounded. */
static void domfacts_quote(char *buf, size_t size, const char *s) {
        size_t n = 0;
        for (; s && *s && n + 1 < size; s++) {
                if (n >= DOMFACTS_QUOTE_MAX) {
                        if (n + 4 <= size)
                                memcpy(buf + n, "...", 3), n += 3;
                        break;
                }
                unsigned char c = (unsigned char) *s;
                buf[n++] = c >= 0x20 && c < 0x7f ? (char) c : '?';
        }
        if (size)
                buf[n] = '\0';
}

__attribute__((format(printf, 3, 4))) static int domfacts_fail(char *err, size_t err_size, const char *fmt, ...) {
        if (err && err_size) {
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(err, err_size, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

static bool domfacts_is(const xmlNode *n, const char *name) {
        return n->type == XML_ELEMENT_NODE && !n->ns && strcmp((const char *) n->name, name) == 0;
}

/* The first child element NAME in no namespace (libvirt's elements), or NULL. */
static xmlNode *domfacts_child(const xmlNode *parent, const char *name) {
        if (!parent)
                return NULL;
        for (xmlNode *n = parent->children; n; n = n->next)
                if (domfacts_is(n, name))
                        return n;
        return NULL;
}

/* The attribute NAME in no namespace. Without a DTD (refused) an
 * attribute's value is one text node, or none when empty. Return: 0 with
 * *ret pointing into the document, -ENOENT if absent, -EINVAL otherwise. */
static int domfacts_attr(const xmlNode *n, const char *name, const char **ret) {
        for (const xmlAttr *a = n->properties; a; a = a->next) {
                if (a->ns || strcmp((const char *) a->name, name) != 0)
                        continue;
                if (!a->children) {
                        *ret = "";
                        return 0;
                }
                if (a->children->type != XML_TEXT_NODE || a->children->next || !a->children->content)
                        return -EINVAL;
                *ret = (const char *) a->children->content;
                return 0;
        }
        return -ENOENT;
}

/* Copy an attribute value into a fixed field; too long is an error, not a
 * truncation (a cut nodeset names other nodes). */
static int domfacts_copy(char *dst, size_t size, const char *value, const char *what, char *err,
                         size_t err_size) {
        if (strlen(value) >= size) {
                char q[DOMFACTS_QUOTE_MAX + 4];
                domfacts_quote(q, sizeof(q), value);
                return domfacts_fail(err, err_size, "%s '%s' is longer than %zu characters", what, q, size - 1);
        }
        strscpy(dst, size, value);
        return 0;
}

/* libvirt's memory units (virScaleInteger): b, byte(s); k, KiB, M, MiB, G,
 * GiB, T, TiB, P, PiB, E, EiB in powers of 1024; KB, MB, GB, TB, PB, EB in
 * powers of 1000; case-insensitive; none: KiB. */
static int domfacts_unit(const char *unit, uint64_t *ret) {
        if (!unit || !*unit) {
                *ret = 1024;
                return 0;
        }
        if (strcasecmp(unit, "b") == 0 || strcasecmp(unit, "byte") == 0 || strcasecmp(unit, "bytes") == 0) {
                *ret = 1;
                return 0;
        }
        uint64_t base;
        if (unit[1] == '\0' || strcasecmp(unit + 1, "iB") == 0)
                base = 1024;
        else if ((unit[1] == 'b' || unit[1] == 'B') && unit[2] == '\0')
                base = 1000;
        else
                return -EINVAL;
        static const char powers[] = "kmgtpe";
        const char *p = strchr(powers, unit[0] | 0x20);
        if (!p)
                return -EINVAL;
        uint64_t scale = 1;
        for (const char *q = powers; q <= p; q++)
                scale *= base;
        *ret = scale;
        return 0;
}

static int domfacts_memory(const xmlNode *root, uint64_t *ret, char *err, size_t err_size) {
        xmlNode *m = domfacts_child(root, "memory");
        if (!m)
                return domfacts_fail(err, err_size, "no <memory> element");
        const char *unit = NULL;
        int r = domfacts_attr(m, "unit", &unit);
        if (r == -EINVAL)
                return domfacts_fail(err, err_size, "<memory unit> is not plain text");
        uint64_t scale;
        if (domfacts_unit(r == 0 ? unit : NULL, &scale) < 0) {
                char q[DOMFACTS_QUOTE_MAX + 4];
                domfacts_quote(q, sizeof(q), unit);
                return domfacts_fail(err, err_size, "<memory> has an unknown unit '%s'", q);
        }
        xmlChar *text = xmlNodeGetContent(m);
        if (!text)
                return -ENOMEM;
        uint64_t v;
        r = parse_u64((const char *) text, &v);
        if (r < 0) {
                char q[DOMFACTS_QUOTE_MAX + 4];
                domfacts_quote(q, sizeof(q), (const char *) text);
                xmlFree(text);
                return domfacts_fail(err, err_size, "<memory> '%s' is %s", q,
                                     r == -ERANGE ? "too large" : "not a number");
        }
        xmlFree(text);
        /* libvirt refuses more than LLONG_MAX bytes and keeps KiB, rounded up. */
        if (v > (uint64_t) INT64_MAX / scale)
                return domfacts_fail(err, err_size, "<memory> %llu * %llu bytes is too large", (unsigned long long) v,
                                     (unsigned long long) scale);
        uint64_t bytes = v * scale;
        *ret = (bytes + 1023) / 1024 * 1024;
        return 0;
}

static int domfacts_balloon(const xmlNode *devices, DomainFacts *f, char *err, size_t err_size) {
        xmlNode *b = domfacts_child(devices, "memballoon");
        if (!b)
                return 0; /* no element: no balloon, model "" */
        const char *v;
        int r = domfacts_attr(b, "model", &v);
        if (r == -EINVAL)
                return domfacts_fail(err, err_size, "<memballoon model> is not plain text");
        if (r == 0) {
                r = domfacts_copy(f->balloon_model, sizeof(f->balloon_model), v, "memballoon model", err, err_size);
                if (r < 0)
                        return r;
        }
        f->has_balloon = f->balloon_model[0] && strcmp(f->balloon_model, "none") != 0;
        if (domfacts_attr(b, "freePageReporting", &v) == 0)
                f->free_page_reporting = strcmp(v, "on") == 0;
        if (domfacts_attr(b, "autodeflate", &v) == 0)
                f->autodeflate = strcmp(v, "on") == 0;

        xmlNode *stats = domfacts_child(b, "stats");
        if (stats && domfacts_attr(stats, "period", &v) == 0) {
                uint64_t period;
                if (parse_u64(v, &period) < 0 || period > UINT_MAX) {
                        char q[DOMFACTS_QUOTE_MAX + 4];
                        domfacts_quote(q, sizeof(q), v);
                        return domfacts_fail(err, err_size, "<memballoon><stats period='%s'> is not a number of seconds",
                                             q);
                }
                f->balloon_period_sec = (unsigned) period;
        }
        return 0;
}

/* vCPUs and their pinning. What cannot be read is left unknown (0, ""):
 * the NUMA planner then leaves the guest alone, nothing else needs it. */
static void domfacts_pinning(const xmlNode *root, DomainFacts *f) {
        const char *v;
        xmlNode *vcpu = domfacts_child(root, "vcpu");
        f->vcpus = 1; /* libvirt's default without <vcpu> */
        if (vcpu) {
                uint64_t n = 0;
                xmlChar *text = xmlNodeGetContent(vcpu);
                if (domfacts_attr(vcpu, "current", &v) == 0 && parse_u64(v, &n) == 0 && n > 0 && n <= 65536)
                        f->vcpus = (unsigned) n;
                else if (text && parse_u64((const char *) text, &n) == 0 && n > 0 && n <= 65536)
                        f->vcpus = (unsigned) n;
                else
                        f->vcpus = 0;
                xmlFree(text);
        }
        bool cpuset = vcpu && domfacts_attr(vcpu, "cpuset", &v) == 0 && v[0];
        if (cpuset) {
                f->vcpu_pinned = true;
                if (strlen(v) < sizeof(f->vcpu_cpuset))
                        strscpy(f->vcpu_cpuset, sizeof(f->vcpu_cpuset), v);
        }
        xmlNode *cputune = domfacts_child(root, "cputune");
        bool mixed = false, first = true;
        unsigned pins = 0;
        for (xmlNode *n = cputune ? cputune->children : NULL; n; n = n->next) {
                if (!domfacts_is(n, "vcpupin"))
                        continue;
                f->vcpu_pinned = true;
                pins++;
                if (domfacts_attr(n, "cpuset", &v) < 0 || strlen(v) >= sizeof(f->vcpu_cpuset))
                        mixed = true;
                else if (first && !cpuset)
                        strscpy(f->vcpu_cpuset, sizeof(f->vcpu_cpuset), v);
                else if (strcmp(f->vcpu_cpuset, v) != 0)
                        mixed = true;
                first = false;
        }
        /* Some vCPUs pinned, the others free to run anywhere: mixed. */
        if (mixed || (pins > 0 && !cpuset && pins < f->vcpus))
                f->vcpu_cpuset[0] = '\0';
        xmlNode *emu = domfacts_child(cputune, "emulatorpin");
        if (emu) {
                f->emulator_pinned = true;
                if (domfacts_attr(emu, "cpuset", &v) == 0 && strlen(v) < sizeof(f->emulator_cpuset))
                        strscpy(f->emulator_cpuset, sizeof(f->emulator_cpuset), v);
        }
}

static int domfacts_numatune(const xmlNode *root, DomainFacts *f, char *err, size_t err_size) {
        xmlNode *mem = domfacts_child(domfacts_child(root, "numatune"), "memory");
        if (!mem)
                return 0;
        const char *mode = "strict"; /* libvirt's default */
        const char *v;
        int r = domfacts_attr(mem, "mode", &v);
        if (r == -EINVAL)
                return domfacts_fail(err, err_size, "<numatune><memory mode> is not plain text");
        if (r == 0)
                mode = v;
        if (strcmp(mode, "strict") != 0 && strcmp(mode, "preferred") != 0 && strcmp(mode, "interleave") != 0 &&
            strcmp(mode, "restrictive") != 0) {
                char q[DOMFACTS_QUOTE_MAX + 4];
                domfacts_quote(q, sizeof(q), mode);
                return domfacts_fail(err, err_size, "<numatune><memory mode='%s'> is not a mode libvirt knows", q);
        }
        strscpy(f->numatune_mode, sizeof(f->numatune_mode), mode);
        r = domfacts_attr(mem, "nodeset", &v);
        if (r == -EINVAL)
                return domfacts_fail(err, err_size, "<numatune><memory nodeset> is not plain text");
        if (r == 0) {
                /* (placement='auto' has no nodeset: numad decides; still not ours to move) */
                r = domfacts_copy(f->numatune_nodeset, sizeof(f->numatune_nodeset), v, "numatune nodeset", err,
                                  err_size);
                if (r < 0)
                        return r;
        }
        f->numatune = true;
        return 0;
}

static bool domfacts_class_valid(const char *s) {
        size_t n = 0;
        for (; s[n]; n++) {
                char c = s[n];
                if (n >= DENSITY_CLASS_MAX - 1 ||
                    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '.' || c == '-'))
                        return false;
        }
        return n > 0;
}

/* <metadata><x:guest xmlns:x=DOMFACTS_NAMESPACE class=".."/></metadata>,
 * found by namespace URI, whatever the prefix. No class attribute: no
 * class; class="" or any other invalid name: an error. */
static int domfacts_metadata(const xmlNode *root, DomainFacts *f, char *err, size_t err_size) {
        xmlNode *md = domfacts_child(root, "metadata");
        if (!md)
                return 0;
        bool seen = false;
        for (xmlNode *n = md->children; n; n = n->next) {
                if (n->type != XML_ELEMENT_NODE || !n->ns || !n->ns->href ||
                    strcmp((const char *) n->ns->href, DOMFACTS_NAMESPACE) != 0 ||
                    strcmp((const char *) n->name, "guest") != 0)
                        continue;
                if (seen)
                        return domfacts_fail(err, err_size, "more than one densityd metadata element");
                seen = true;
                const char *v;
                int r = domfacts_attr(n, "class", &v);
                if (r == -ENOENT)
                        continue;
                if (r < 0 || !domfacts_class_valid(v)) {
                        char q[DOMFACTS_QUOTE_MAX + 4];
                        domfacts_quote(q, sizeof(q), r == 0 ? v : "");
                        return domfacts_fail(err, err_size,
                                             "densityd metadata class '%s' is not a class name ([A-Za-z0-9_.-], "
                                             "1 to %d characters)",
                                             q, DENSITY_CLASS_MAX - 1);
                }
                strscpy(f->metadata_class, sizeof(f->metadata_class), v);
        }
        return 0;
}

static void xmlFreeDocp(xmlDoc **d) {
        if (*d)
                xmlFreeDoc(*d);
}

static void xmlFreeParserCtxtp(xmlParserCtxt **c) {
        if (*c)
                xmlFreeParserCtxt(*c);
}

/* One line from libxml2's last error: "line N: message". */
static void domfacts_xml_error(xmlParserCtxt *ctxt, char *buf, size_t size) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        char msg[128];
        domfacts_quote(msg, sizeof(msg), e && e->message ? e->message : "no document");
        /* libxml2's messages end in a newline, now a '?' */
        size_t n = strlen(msg);
        while (n > 0 && (msg[n - 1] == '?' || msg[n - 1] == ' '))
                msg[--n] = '\0';
        snprintf(buf, size, "line %d: %s", e ? e->line : 0, msg);
}

int domain_facts_parse(const char *xml, size_t len, bool persistent, DomainFacts *ret, char *err, size_t err_size) {
        if (!xml || len == 0)
                return domfacts_fail(err, err_size, "not XML: empty");
        if (len > DOMFACTS_XML_MAX_BYTES)
                return domfacts_fail(err, err_size, "not a domain XML: %zu bytes (at most %u)", len,
                                     DOMFACTS_XML_MAX_BYTES);

        domfacts_silence();
        _cleanup_(xmlFreeParserCtxtp) xmlParserCtxt *ctxt = xmlNewParserCtxt();
        if (!ctxt)
                return -ENOMEM;
        /* No XML_PARSE_NOENT (entities are not expanded), no DTD loading,
         * no network, no messages. */
        _cleanup_(xmlFreeDocp) xmlDoc *doc = xmlCtxtReadMemory(ctxt, xml, (int) len, "domain.xml", "UTF-8",
                                                               XML_PARSE_NONET | XML_PARSE_NOERROR |
                                                                       XML_PARSE_NOWARNING);
        if (!doc) {
                const xmlError *e = xmlCtxtGetLastError(ctxt);
                if (e && e->code == XML_ERR_NO_MEMORY)
                        return -ENOMEM;
                char why[160];
                domfacts_xml_error(ctxt, why, sizeof(why));
                return domfacts_fail(err, err_size, "not XML: %s", why);
        }
        /* libvirt never writes a DOCTYPE; refusing one keeps entity
         * declarations (and their expansion in attribute values) out. */
        if (doc->intSubset || doc->extSubset)
                return domfacts_fail(err, err_size, "not a domain XML: it has a DOCTYPE");
        xmlNode *root = xmlDocGetRootElement(doc);
        if (!root || !domfacts_is(root, "domain")) {
                char q[DOMFACTS_QUOTE_MAX + 4];
                domfacts_quote(q, sizeof(q), root ? (const char *) root->name : "");
                return domfacts_fail(err, err_size, "not a domain XML: the root element is <%s>", q);
        }

        DomainFacts f = { .known = true, .persistent = persistent };
        int r = domfacts_memory(root, &f.max_memory_bytes, err, err_size);
        if (r < 0)
                return r;
        r = domfacts_balloon(domfacts_child(root, "devices"), &f, err, err_size);
        if (r < 0)
                return r;
        domfacts_pinning(root, &f);
        f.nosharepages = domfacts_child(domfacts_child(root, "memoryBacking"), "nosharepages") != NULL;
        r = domfacts_numatune(root, &f, err, err_size);
        if (r < 0)
                return r;
        r = domfacts_metadata(root, &f, err, err_size);
        if (r < 0)
                return r;
        *ret = f;
        return 0;
}

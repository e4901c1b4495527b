/* connect: opening a hypervisor connection that can be abandoned.
 *
 * virConnectOpen() to a libvirtd that accepts and never answers blocks for
 * ever: libvirt's keepalive starts only once the connection is open. So
 * each attempt runs in a short-lived thread of its own and the caller waits
 * only as long as it chooses. While the newest attempt has not answered
 * for CONNECT_RETRY_USEC, the next call starts another beside it; whichever
 * answers first for the wanted URI is taken (a libvirtd that is merely slow
 * is still reached), later ones are closed. At most CONNECT_ATTEMPTS_MAX
 * attempts are under way at once; past that no new one starts until one
 * ends. Attempts for a URI no longer wanted (a reload changed LibvirtURI=)
 * are abandoned at once: each thread closes what it opens and ends when its
 * peer answers or closes. So when a real libvirtd answers on the socket
 * again, a fresh attempt reaches it within about CONNECT_RETRY_USEC. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "density/util.h"
#include "density/virt.h"

#define CONNECT_RETRY_USEC (1 * USEC_PER_SEC)
#define CONNECT_ATTEMPTS_MAX 32

typedef struct Connector Connector;

/* Return: 0 or -ENOMEM. */
int connector_new(const VirtOps *ops, void *ops_userdata, Connector **ret);

/* Abandon any attempt under way (its thread finishes on its own); accepts
 * NULL. Return: NULL. */
Connector *connector_free(Connector *c);

/**
 * connector_open() - a new connection to uri, waiting at most wait_usec.
 * @ret: the connection (the caller closes it with ops->close) on success
 * @err: on failure, why (one line)
 *
 * Takes a connection an earlier attempt made meanwhile, else starts an
 * attempt if none is under way (or the newest is older than
 * CONNECT_RETRY_USEC) and waits for the newest.
 * Return: 0; -EINPROGRESS when no attempt has answered yet (call again
 * later); or the newest attempt's negative errno.
 */
int connector_open(Connector *c, const char *uri, uint64_t wait_usec, VirtConn **ret, char *err, size_t err_size);

/* Attempts for the wanted URI still waiting for their peer (for tests and
 * status). */
unsigned connector_stuck(Connector *c);

/* connect: opening a hypervisor connection that can be abandoned.
 *
 * virConnectOpen() to a libvirtd that accepts and never answers blocks for
 * ever: libvirt's keepalive starts only once the connection is open. So
 * each attempt runs in a short-lived thread of its own and the caller waits
 * only as long as it chooses. An attempt that has not answered within
 * CONNECT_ABANDON_USEC, or whose URI is no longer wanted (a reload changed
 * LibvirtURI=), is abandoned and a fresh one starts: the stuck thread stays
 * until its peer answers or closes, then closes what it opened and ends. At
 * most CONNECT_ABANDONED_MAX abandoned attempts may be stuck at once; past
 * that the newest attempt is kept waiting instead. So when a real libvirtd
 * answers on the socket again, a fresh attempt reaches it within about
 * CONNECT_ABANDON_USEC. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "density/util.h"
#include "density/virt.h"

#define CONNECT_ABANDON_USEC (2 * USEC_PER_SEC)
#define CONNECT_ABANDONED_MAX 32

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
 * Starts an attempt if none is under way for uri, then waits for it.
 * Return: 0; -EINPROGRESS when the attempt has not answered yet (call again
 * later: the same attempt is waited on, or a fresh one started once it is
 * older than CONNECT_ABANDON_USEC); or the attempt's negative errno.
 */
int connector_open(Connector *c, const char *uri, uint64_t wait_usec, VirtConn **ret, char *err, size_t err_size);

/* Attempts abandoned and still stuck in their open call (for tests and status). */
unsigned connector_stuck(Connector *c);

/* lwsmem.h - the allocator libwebsockets uses (lws_set_allocator).
 *
 * lws gives every WebSocket connection a receive buffer of the protocol's
 * rx_buffer_size (transport.c: 16 KiB, a whole TLS record) for as long as
 * the connection lives. Taken from the heap, all of it is resident: the
 * heap reuses memory other allocations touched before (the TLS handshake's
 * buffers). lwsmem maps each of these buffers on its own pages, so only
 * the pages a message has written to count: an idle connection holds one
 * page of it, not four. Every other allocation goes to malloc, as lws's own
 * allocator does. */
#ifndef PARLEY_SERVER_LWSMEM_H
#define PARLEY_SERVER_LWSMEM_H

#include <stddef.h>

/* Install the allocator: before the first lws call, once per process. */
void lwsmem_install(void);

/* The allocator itself (realloc semantics; size 0 frees), for tests. */
void *lwsmem_realloc(void *ptr, size_t size, const char *reason);

/* Buffers currently mapped (connections holding a receive buffer). */
size_t lwsmem_mapped(void);

#endif

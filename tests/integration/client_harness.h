/* client_harness.h - what the tests and benchmarks that drive libparley
 * share: the client configuration file for a test parleyd. */
#ifndef PARLEY_TEST_CLIENT_HARNESS_H
#define PARLEY_TEST_CLIENT_HARNESS_H

#include <parley/parley.h>

#include "harness.h"

/* The configuration file an administrator would hand out for node `p`:
 * network `network_id` at 127.0.0.1 and p's port, p's certificate pinned,
 * an empty policy; sealed with `password` into `path`, then opened.
 * Returns NULL on failure. */
struct parley_config *harness_client_config(const struct parleyd *p, const char *network_id,
                                            const char *path, const char *password);

#endif

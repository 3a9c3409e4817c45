/* natsd.h - a private nats-server for tests of several parleyd nodes:
 * started on a free loopback port, its log kept in a temp directory. */
#ifndef PARLEY_TESTS_NATSD_H
#define PARLEY_TESTS_NATSD_H

#include <sys/types.h>

struct natsd {
    pid_t pid;
    int port;
    char dir[128];
    char url[64]; /* nats://127.0.0.1:PORT */
};

/* Start `nats-server` (from PATH) and wait until it listens. Returns 0 or
 * -1 (the reason on stderr). */
int natsd_start(struct natsd *n);
/* Stop it (SIGTERM, then SIGKILL) and remove its directory. */
void natsd_stop(struct natsd *n);

#endif

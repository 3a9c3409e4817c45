/* natsd.c - see natsd.h. */
#include "natsd.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READY "Listening for client connections on 127.0.0.1:"

static int port_from_log(const char *path)
{
    char line[512];
    int port = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    while (!port && fgets(line, sizeof(line), f)) {
        const char *p = strstr(line, READY);
        if (p)
            port = (int)strtol(p + strlen(READY), NULL, 10);
    }
    fclose(f);
    return port;
}

int natsd_start(struct natsd *n)
{
    char log[200];
    memset(n, 0, sizeof(*n));
    snprintf(n->dir, sizeof(n->dir), "/tmp/parley-nats.XXXXXX");
    if (!mkdtemp(n->dir))
        return -1;
    snprintf(log, sizeof(log), "%s/nats.log", n->dir);
    n->pid = fork();
    if (n->pid < 0)
        return -1;
    if (n->pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        /* -p -1: a free port, which the log names. */
        execlp("nats-server", "nats-server", "-a", "127.0.0.1", "-p", "-1", "-l", log,
               (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        int status;
        if (waitpid(n->pid, &status, WNOHANG) == n->pid) {
            fprintf(stderr, "nats-server exited during start-up (installed? tools/install-deps)\n");
            n->pid = 0;
            return -1;
        }
        if ((n->port = port_from_log(log)) > 0) {
            snprintf(n->url, sizeof(n->url), "nats://127.0.0.1:%d", n->port);
            return 0;
        }
        usleep(20000);
    }
    fprintf(stderr, "nats-server did not listen within 10 s\n");
    natsd_stop(n);
    return -1;
}

void natsd_stop(struct natsd *n)
{
    char cmd[200];
    if (n->pid > 0) {
        kill(n->pid, SIGTERM);
        for (int i = 0; i < 250; i++) {
            if (waitpid(n->pid, NULL, WNOHANG) == n->pid) {
                n->pid = 0;
                break;
            }
            usleep(20000);
        }
        if (n->pid > 0) {
            kill(n->pid, SIGKILL);
            waitpid(n->pid, NULL, 0);
            n->pid = 0;
        }
    }
    if (n->dir[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", n->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "# cannot remove %s\n", n->dir);
        n->dir[0] = '\0';
    }
}

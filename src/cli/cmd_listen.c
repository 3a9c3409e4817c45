/* cmd_listen.c - `parley listen`: print received messages as they arrive
 * (queued ones first), one line each; --json prints one JSON object per
 * line for scripts. */
#include "cli.h"

#include <getopt.h>
#include <signal.h>

#include <jansson.h>

#include "common/str.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    stop = 1;
}

static void print_message(const struct parley_event *ev, bool json)
{
    json_t *body = json_loads(ev->body, 0, NULL);
    if (json) {
        json_t *o =
            json_pack("{ssssssssss?sisIsOsb}", "msg_id", ev->msg_id, "conv_id", ev->conv_id,
                      "sender", ev->sender, "sender_device", ev->sender_device, "sender_name",
                      ev->sender_name, "msgtype", ev->msgtype, "ts", (json_int_t)ev->ts_ms,
                      "payload", body ? body : json_null(), "burn_on_read", ev->burn_on_read);
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (s)
            printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        const char *text = json_string_value(json_object_get(body, "message"));
        const char *name = ev->sender_name ? ev->sender_name : ev->sender;
        const char *type = parley_msgtype_name(ev->msgtype);
        if (text)
            printf("[%s] %s: %s\n", ev->conv_id, name, text);
        else
            printf("[%s] %s: <%s> %s\n", ev->conv_id, name, type ? type : "?", ev->body);
    }
    fflush(stdout);
    json_decref(body);
}

int cmd_listen(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"count", required_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, 't'},
        {"read", no_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    int64_t count = -1, timeout = -1;
    bool json = false, mark_read = false;
    int ch;

    optind = 0;
    while ((ch = getopt_long(argc, argv, "jn:t:r", opts, NULL)) != -1) {
        if (ch == 'j')
            json = true;
        else if (ch == 'r')
            mark_read = true;
        else if (ch == 'n' && str_to_i64(optarg, 1, INT32_MAX, &count) == 0)
            continue;
        else if (ch == 't' && str_to_i64(optarg, 1, 86400, &timeout) == 0)
            continue;
        else
            return 2;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    struct parley_client *c = cli_client(cli, true);
    time_t end = timeout > 0 ? time(NULL) + timeout : 0;
    int status = 0;
    while (!stop && count != 0) {
        struct parley_event *ev;
        if (end && time(NULL) >= end) {
            status = 3; /* fewer messages than --count in time */
            break;
        }
        if (parley_client_next_event(c, 500, &ev) < 0)
            continue;
        if (ev->type == PARLEY_EVENT_MESSAGE) {
            print_message(ev, json);
            /* Printed is read: burn-on-read messages start their timer. */
            if (mark_read)
                (void)parley_client_mark_read(c, ev->msg_id);
            if (count > 0)
                count--;
        } else if (ev->type == PARLEY_EVENT_ERROR) {
            fprintf(stderr, "parley: %s: %s\n", ev->body ? ev->body : "error",
                    parley_strerror(ev->err));
        }
        parley_event_free(ev);
    }
    parley_client_free(c);
    return status;
}

/* cmd_files.c - `parley send-file USER_OR_CONV PATH` and `parley get-file
 * MSG_ID OUT`: end-to-end encrypted files with a progress bar (bytes,
 * rate, time left). Run the same command again after an interruption and
 * the transfer resumes where it stopped. */
#include "cli.h"

#include <getopt.h>
#include <time.h>
#include <unistd.h>

struct bar {
    bool show;
    double start, last;
    const char *verb;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void human(double bytes, char *out, size_t n)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    size_t u = 0;
    while (bytes >= 1024 && u + 1 < ARRAY_SIZE(units)) {
        bytes /= 1024;
        u++;
    }
    snprintf(out, n, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

static int on_progress(void *arg, uint64_t done, uint64_t total)
{
    struct bar *b = arg;
    double t = now_s(), rate, left;
    char d[32], tot[32], r[32];

    if (!b->show || (t - b->last < 0.2 && done < total))
        return 0;
    b->last = t;
    rate = t > b->start ? (double)done / (t - b->start) : 0;
    left = rate > 0 ? (double)(total - done) / rate : 0;
    human((double)done, d, sizeof(d));
    human((double)total, tot, sizeof(tot));
    human(rate, r, sizeof(r));
    fprintf(stderr, "\r%s %5.1f%%  %s / %s  %s/s  %d:%02d:%02d left   ", b->verb,
            total ? 100.0 * (double)done / (double)total : 100.0, d, tot, r, (int)left / 3600,
            (int)left / 60 % 60, (int)left % 60);
    if (done >= total)
        fprintf(stderr, "\n");
    return 0;
}

static int fail(const char *what, int rc, const char *why)
{
    if (why[0])
        fprintf(stderr, "parley: %s: %s\n", what, why);
    else
        cli_fail(what, rc);
    return 1;
}

int cmd_send_file(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, NULL, 'n'},
        {"screenshot", no_argument, NULL, 's'},
        {"voice-memo", required_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    struct bar b = {isatty(2), now_s(), 0, "upload  "};
    char why[512] = "", msg_id[PARLEY_ID_HEX];
    struct parley_file_opts fo = {
        .progress = on_progress, .progress_arg = &b, .error = why, .error_len = sizeof(why)};
    int ch, rc;

    optind = 0;
    while ((ch = getopt_long(argc, argv, "n:sv:", opts, NULL)) != -1) {
        switch (ch) {
        case 'n':
            fo.name = optarg;
            break;
        case 's':
            fo.is_screenshot = 1;
            break;
        case 'v': {
            char *end;
            long s = strtol(optarg, &end, 10);
            if (*end || s < 0 || s > 86400) {
                fprintf(stderr, "parley: --voice-memo takes the memo's length in seconds\n");
                return 2;
            }
            fo.is_voice_memo = 1;
            fo.voice_memo_duration_s = (uint32_t)s;
            break;
        }
        default:
            return 2;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: parley send-file [--name NAME] [--screenshot] "
                        "[--voice-memo SECONDS] USER_OR_CONV PATH\n");
        return 2;
    }
    struct parley_client *c = cli_client(cli, true);
    rc = parley_file_send(c, argv[optind], argv[optind + 1], &fo, msg_id);
    parley_client_free(c);
    if (b.show && rc < 0)
        fprintf(stderr, "\n");
    if (rc < 0)
        return fail("send-file", rc, why);
    printf("%s\n", msg_id);
    return 0;
}

int cmd_get_file(struct cli *cli, int argc, char **argv)
{
    struct bar b = {isatty(2), now_s(), 0, "download"};
    char why[512] = "";
    struct parley_file_opts fo = {
        .progress = on_progress, .progress_arg = &b, .error = why, .error_len = sizeof(why)};
    const char *out;
    int rc;

    if (argc != 3) {
        fprintf(stderr, "usage: parley get-file MSG_ID OUT\n");
        return 2;
    }
    out = argv[2];
    struct parley_client *c = cli_client(cli, true);
    /* A message that is still queued on the server arrives just after
     * connecting: give it a moment. */
    for (int i = 0;; i++) {
        why[0] = 0;
        rc = parley_file_get(c, argv[1], out, &fo);
        if (rc != PARLEY_ENOTFOUND || i == 10 || strstr(why, "local history") == NULL)
            break;
        struct parley_event *ev;
        if (parley_client_next_event(c, 500, &ev) == 0)
            parley_event_free(ev);
    }
    parley_client_free(c);
    if (b.show && rc < 0)
        fprintf(stderr, "\n");
    if (rc < 0)
        return fail("get-file", rc, why);
    printf("%s\n", out);
    return 0;
}

/* `parley files CONV ...`: the Files view of a room or group. */
int cmd_vault(struct cli *cli, int argc, char **argv)
{
    struct bar b = {isatty(2), now_s(), 0, "transfer"};
    char why[512] = "", guid[PARLEY_ID_HEX];
    struct parley_file_opts fo = {
        .progress = on_progress, .progress_arg = &b, .error = why, .error_len = sizeof(why)};
    const char *conv, *verb;
    char *json = NULL;
    int rc = PARLEY_EINVAL, n;

    if (argc < 3) {
        fprintf(stderr, "usage: parley files CONV list | upload PATH [FOLDER] | save MSG_ID "
                        "[FOLDER] | mkdir FOLDER | mv GUID FOLDER | rm GUID | get GUID OUT\n");
        return 2;
    }
    conv = argv[1];
    verb = argv[2];
    n = argc - 3;
    struct parley_client *c = cli_client(cli, true);
    if (strcmp(verb, "list") == 0 && n == 0) {
        rc = parley_vault_list(c, conv, &json);
        if (rc == 0)
            printf("%s\n", json);
        free(json);
    } else if (strcmp(verb, "upload") == 0 && (n == 1 || n == 2)) {
        rc = parley_vault_upload(c, conv, argv[3], n == 2 ? argv[4] : NULL, &fo, guid);
        if (rc == 0)
            printf("%s\n", guid);
    } else if (strcmp(verb, "save") == 0 && (n == 1 || n == 2)) {
        rc = parley_vault_save(c, conv, argv[3], n == 2 ? argv[4] : NULL);
    } else if (strcmp(verb, "mkdir") == 0 && n == 1) {
        rc = parley_vault_mkdir(c, conv, argv[3]);
    } else if (strcmp(verb, "mv") == 0 && n == 2) {
        rc = parley_vault_move(c, conv, argv[3], argv[4]);
    } else if (strcmp(verb, "rm") == 0 && n == 1) {
        rc = parley_vault_delete(c, conv, argv[3]);
    } else if (strcmp(verb, "get") == 0 && n == 2) {
        rc = parley_vault_get(c, conv, argv[3], argv[4], &fo);
    } else {
        parley_client_free(c);
        fprintf(stderr, "parley: files: unknown command or wrong arguments: %s\n", verb);
        return 2;
    }
    parley_client_free(c);
    if (rc < 0)
        return fail("files", rc, why);
    return 0;
}

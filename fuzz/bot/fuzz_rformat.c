/* fuzz_rformat.c - a payload a sender chose, through the retention line
 * formatter: no crash, and a line that comes out is one JSON object on
 * one line, whose file object never carries the file key. The same bytes
 * as a file's display name give an attachment name that stays inside the
 * attachment directory. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bot/rformat.h"

static int name(void *arg, const char *id, char **out)
{
    (void)arg;
    *out = strdup(id[0] == '0' ? "user" : id);
    return *out ? 0 : PARLEY_ENOMEM;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *payload = malloc(size + 1);
    struct buf out = BUF_INIT(RFORMAT_MAX_LINE);
    struct rformat_msg m = {
        .msg_id = "0123456789abcdef0123456789abcdef",
        .vgroupid = "S19a8782d9a0441d5e13f15b6789f00bc2f9b8231aa364a2eb3a8269dce2ac21",
        .sender = "alice",
        .ts_ms = 1691176258901,
        .expires_at = 1693768258,
        .burn_on_read = size & 1,
        .bor_s = 60,
        .localfilename = "/srv/att/attachment_x",
    };

    if (!payload)
        return 0;
    memcpy(payload, data, size);
    payload[size] = '\0';
    m.payload = payload;
    if (rformat_line(&m, name, NULL, &out) == 0) {
        json_t *o;
        if (out.len < 3 || out.data[out.len - 1] != '\n' || memchr(out.data, '\n', out.len - 1))
            __builtin_trap();
        o = json_loadb((const char *)out.data, out.len - 1, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(o) || json_object_get(json_object_get(o, "file"), "key"))
            __builtin_trap();
        json_decref(o);
    }
    buf_release(&out);
    /* The bytes up to the first NUL, as a sender's file name. */
    struct buf an = BUF_INIT(4096);
    if (rformat_attachment_name(1691176544790, payload, &an) == 0) {
        const char *n = (const char *)an.data;
        if (an.len < 12 || memchr(n, '/', an.len) || memchr(n, 0, an.len) || n[0] == '.' ||
            strncmp(n, "attachment_", 11) != 0)
            __builtin_trap();
    }
    buf_release(&an);
    free(payload);
    return 0;
}

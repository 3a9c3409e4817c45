/* fuzz_botreq.c - a command-channel frame from a bot (outside bytes): the
 * parser must give a request or an error, and the accessors must hold to
 * what the parser checked. */
#include "bot/engine/botreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct botreq r;
    char err[256];

    if (botreq_parse(data, size, &r, err, sizeof(err)) != 0) {
        if (err[0] == '\0')
            __builtin_trap(); /* every refusal says why */
        return 0;
    }
    for (size_t i = 0; i < BOTREQ_MAX_FIELDS && r.action->fields[i].name; i++) {
        const struct botreq_field *f = &r.action->fields[i];
        size_t n = 0;
        const char **users;
        switch (f->kind) {
        case BR_STRING:
            if (f->required && !botreq_str(&r, f->name, NULL))
                __builtin_trap();
            break;
        case BR_INT:
            (void)botreq_int(&r, f->name, 0);
            break;
        case BR_BOOL:
            (void)botreq_bool(&r, f->name, false);
            break;
        case BR_USERS:
            users = botreq_users(&r, f->name, &n);
            for (size_t k = 0; users && k < n; k++)
                if (!users[k] || !users[k][0])
                    __builtin_trap();
            free(users);
            break;
        default:
            break;
        }
    }
    char *reply = botreq_reply(BOTREQ_OK, r.action->name);
    free(reply);
    botreq_release(&r);
    return 0;
}

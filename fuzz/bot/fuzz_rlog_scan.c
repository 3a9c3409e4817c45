/* fuzz_rlog_scan.c - the retention log's tail, as read back at start: any
 * bytes (a file someone edited, a torn write) must parse without a crash,
 * and the complete part must end at a newline. The first byte chooses
 * whether the window starts at the file's start. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bot/rlog.h"

static void on_id(void *arg, const char *id)
{
    size_t *n = arg;
    if (strlen(id) != 32)
        __builtin_trap();
    (*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t complete, ids = 0, lines;

    if (size < 1)
        return 0;
    lines = rlog_scan(data + 1, size - 1, data[0] & 1, &complete, on_id, &ids);
    if (complete > size - 1 || (complete && data[complete] != '\n') || ids > lines + 1)
        __builtin_trap();
    return 0;
}

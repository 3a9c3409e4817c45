/* fuzz_filecrypt.c - the record reader of encrypted files: ciphertext from
 * a server (which the client does not trust) fed in two pieces split where
 * the first byte says, under a fixed key. Whatever comes in, the reader
 * emits only authenticated plaintext of a legal length, in index order. */
#include "proto/filecrypt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
    uint64_t next;
};

static int on_pt(void *arg, uint64_t index, const uint8_t *pt, size_t len)
{
    struct seen *s = arg;
    (void)pt;
    if (index != s->next++ || len > FILECRYPT_CHUNK)
        __builtin_trap();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t key[FILECRYPT_KEY_LEN] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                                   11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                                   22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
    static struct filecrypt_reader r;
    static bool ready;
    struct seen s = {0};
    size_t cut;
    int rc;

    if (size < 1)
        return 0;
    cut = data[0] <= size - 1 ? data[0] : size - 1;
    /* One reader for the whole run (its buffers are large), restarted for
     * each input. */
    if (!ready && filecrypt_reader_init(&r, key, 0) < 0)
        return 0;
    ready = true;
    filecrypt_reader_restart(&r, 0);
    rc = filecrypt_reader_feed(&r, data + 1, cut, on_pt, &s);
    if (rc == 0)
        rc = filecrypt_reader_feed(&r, data + 1 + cut, size - 1 - cut, on_pt, &s);
    if (rc == 0)
        (void)filecrypt_reader_finish(&r);
    return 0;
}

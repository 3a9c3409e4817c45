/* fuzz_ws_binary.c - the checks parleyd makes on a binary WebSocket message
 * before anything touches the database (msgstore_precheck: kind byte,
 * envelope routing header, sender, duplicate wraps), then the per-device
 * split it makes for delivery. */
#include "server/msgstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct msg_submit m;
    struct envelope_splitter sp;

    memset(&m, 0, sizeof(m));
    m.frame = (uint8_t *)data;
    m.frame_len = size;
    /* Claim to be whichever device the envelope names as its sender, so the
     * later checks run too. */
    if (size >= 1 + 24 + KEYS_ID_LEN)
        memcpy(m.session_device, data + 1 + 24, KEYS_ID_LEN);
    if (msgstore_precheck(&m, 1u << 20) != MSG_OK) {
        if (!m.message[0])
            __builtin_trap();
        return 0;
    }
    if (envelope_splitter_init(&sp, data + 1, size - 1) == 0) {
        for (size_t i = 0; i < m.route.n_wraps; i++) {
            struct buf out = BUF_INIT(SIZE_MAX);
            uint32_t pk;
            if (envelope_splitter_for(&sp, envelope_route_device(&m.route, i, &pk), &out) < 0)
                __builtin_trap(); /* every wrap of a parsed envelope splits */
            buf_release(&out);
        }
        envelope_splitter_release(&sp);
    }
    return 0;
}

/* err.c - names for the PARLEY_E* codes. */
#include <parley/error.h>

const char *parley_strerror(int err)
{
    switch (err) {
    case PARLEY_OK:
        return "success";
    case PARLEY_ENOMEM:
        return "out of memory";
    case PARLEY_EINVAL:
        return "invalid argument";
    case PARLEY_EIO:
        return "input/output error";
    case PARLEY_ENOTFOUND:
        return "not found";
    case PARLEY_EEXIST:
        return "already exists";
    case PARLEY_ECRYPTO:
        return "cryptographic library failure";
    case PARLEY_EAUTH:
        return "authentication failed";
    case PARLEY_EPROTO:
        return "malformed or unsupported data";
    case PARLEY_ETOOBIG:
        return "size limit exceeded";
    case PARLEY_EREPLAY:
        return "replayed message";
    case PARLEY_ESTORE:
        return "database failure";
    case PARLEY_EPERM:
        return "permission denied";
    case PARLEY_EBUSY:
        return "busy";
    case PARLEY_ECONFIG:
        return "invalid configuration";
    case PARLEY_ECONFLICT:
        return "conflicting change";
    case PARLEY_ECLOSED:
        return "shut down";
    case PARLEY_ENOTSUP:
        return "not supported";
    case PARLEY_ECANCELED:
        return "cancelled";
    }
    return "unknown error";
}

/* error.h - error codes shared by libparley and the Parley programs.
 * Every fallible function returns 0 on success or a negative PARLEY_E* code. */
#ifndef PARLEY_ERROR_H
#define PARLEY_ERROR_H

enum parley_error {
    PARLEY_OK = 0,
    PARLEY_ENOMEM = -1,     /* out of memory */
    PARLEY_EINVAL = -2,     /* invalid argument */
    PARLEY_EIO = -3,        /* input/output error */
    PARLEY_ENOTFOUND = -4,  /* no such object */
    PARLEY_EEXIST = -5,     /* object already exists */
    PARLEY_ECRYPTO = -6,    /* cryptographic library failure */
    PARLEY_EAUTH = -7,      /* authentication failed (bad tag, signature or password) */
    PARLEY_EPROTO = -8,     /* malformed or unsupported data */
    PARLEY_ETOOBIG = -9,    /* input exceeds a size limit */
    PARLEY_EREPLAY = -10,   /* message already seen */
    PARLEY_ESTORE = -11,    /* database failure */
    PARLEY_EPERM = -12,     /* operation not permitted */
    PARLEY_EBUSY = -13,     /* resource busy, try again */
    PARLEY_ECONFIG = -14,   /* invalid configuration */
    PARLEY_ECONFLICT = -15, /* conflicting concurrent change */
    PARLEY_ECLOSED = -16,   /* the object was shut down */
    PARLEY_ENOTSUP = -17,   /* not supported (yet) */
    PARLEY_ECANCELED = -18, /* cancelled by the application */
};

/* A short lowercase description of `err` (a PARLEY_E* code). Never NULL. */
const char *parley_strerror(int err);

#endif

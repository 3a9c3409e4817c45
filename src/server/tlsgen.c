/* tlsgen.c - create the self-signed certificate parleyd uses when no
 * certificate is configured, so that it runs over TLS with zero
 * configuration. Clients pin it (its fingerprint is logged at start). */
#include "tlsgen.h"
#include "common/log.h"
#include "common/xmalloc.h"

#include <fcntl.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define VALIDITY_DAYS (5 * 365)

static bool is_ip_literal(const char *s)
{
    unsigned char b[16];
    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

static bool is_wildcard(const char *s)
{
    return strcmp(s, "0.0.0.0") == 0 || strcmp(s, "::") == 0;
}

static int add_ext(X509 *cert, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    int ok;

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return PARLEY_ECRYPTO;
    ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : PARLEY_ECRYPTO;
}

static char *san_list(const char *hostname, const char *listen_host)
{
    char *san = xasprintf("DNS:localhost,IP:127.0.0.1,IP:::1");
    char *next;

    if (strcmp(hostname, "localhost") != 0) {
        next = xasprintf("%s,%s:%s", san, is_ip_literal(hostname) ? "IP" : "DNS", hostname);
        free(san);
        san = next;
    }
    if (listen_host && is_ip_literal(listen_host) && !is_wildcard(listen_host) &&
        strcmp(listen_host, "127.0.0.1") != 0 && strcmp(listen_host, "::1") != 0 &&
        strcmp(listen_host, hostname) != 0) {
        next = xasprintf("%s,IP:%s", san, listen_host);
        free(san);
        san = next;
    }
    return san;
}

static X509 *make_cert(EVP_PKEY *key, const char *hostname, const char *listen_host)
{
    X509 *cert = X509_new();
    X509_NAME *name;
    ASN1_INTEGER *serial = NULL;
    BIGNUM *bn = NULL;
    unsigned char rnd[16];
    char *san = NULL;
    bool ok = false;

    if (!cert || RAND_bytes(rnd, sizeof(rnd)) != 1)
        goto out;
    rnd[0] &= 0x7f; /* RFC 5280 §4.1.2.2: a positive serial of at most 20 octets */
    bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
    serial = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    if (!serial || !X509_set_version(cert, 2) || !X509_set_serialNumber(cert, serial))
        goto out;
    /* Back-date an hour so that clients with a slightly slow clock accept it. */
    if (!X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(cert), (long)VALIDITY_DAYS * 86400))
        goto out;
    name = X509_get_subject_name(cert);
    if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"Parley", -1,
                                    -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)hostname, -1,
                                    -1, 0) ||
        !X509_set_issuer_name(cert, name) || !X509_set_pubkey(cert, key))
        goto out;
    san = san_list(hostname, listen_host);
    if (add_ext(cert, NID_subject_alt_name, san) < 0 ||
        add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
        add_ext(cert, NID_key_usage, "critical,digitalSignature") < 0 ||
        add_ext(cert, NID_ext_key_usage, "serverAuth") < 0 ||
        add_ext(cert, NID_subject_key_identifier, "hash") < 0)
        goto out;
    if (!X509_sign(cert, key, EVP_sha256()))
        goto out;
    ok = true;
out:
    free(san);
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    if (!ok) {
        X509_free(cert);
        cert = NULL;
    }
    return cert;
}

/* Write through `writer` to path.tmp with `mode`, fsync, then rename. */
static int write_pem(const char *path, mode_t mode, int (*writer)(BIO *, void *), void *obj)
{
    char *tmp = xasprintf("%s.tmp", path);
    BIO *bio = NULL;
    FILE *f = NULL;
    int fd, rc = PARLEY_EIO;

    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        log_warn("cannot create '%s'", tmp);
        goto out;
    }
    f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        goto out;
    }
    bio = BIO_new_fp(f, BIO_NOCLOSE);
    if (!bio || !writer(bio, obj) || BIO_flush(bio) != 1 || fflush(f) != 0 || fsync(fd) != 0) {
        log_warnx("cannot write '%s'", tmp);
        goto out;
    }
    if (rename(tmp, path) < 0) {
        log_warn("cannot rename '%s'", tmp);
        goto out;
    }
    rc = 0;
out:
    BIO_free(bio);
    if (f)
        fclose(f);
    if (rc < 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

static int write_key(BIO *bio, void *key)
{
    return PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
}

static int write_cert(BIO *bio, void *cert)
{
    return PEM_write_bio_X509(bio, cert);
}

int tlsgen_self_signed(const char *cert_path, const char *key_path, const char *hostname,
                       const char *listen_host)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *cert = NULL;
    int rc = PARLEY_ECRYPTO;

    if (!key) {
        log_warnx("cannot generate a TLS key");
        goto out;
    }
    cert = make_cert(key, hostname, listen_host);
    if (!cert) {
        log_warnx("cannot create a self-signed certificate for '%s'", hostname);
        goto out;
    }
    /* Key first: a certificate without its key would block the next start. */
    rc = write_pem(key_path, 0600, write_key, key);
    if (rc == 0)
        rc = write_pem(cert_path, 0644, write_cert, cert);
out:
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

int tlsgen_fingerprint(const char *cert_path, char out[96])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    FILE *f = fopen(cert_path, "r");
    X509 *cert;
    int rc = PARLEY_EIO;

    if (!f)
        return PARLEY_EIO;
    cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (cert && X509_digest(cert, EVP_sha256(), md, &mdlen) && mdlen == 32) {
        for (unsigned i = 0; i < mdlen; i++)
            snprintf(out + 3 * i, 4, "%02X%s", md[i], i + 1 < mdlen ? ":" : "");
        rc = 0;
    }
    X509_free(cert);
    return rc;
}

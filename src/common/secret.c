/* secret.c - see secret.h. */
#include "secret.h"

#include <openssl/crypto.h>

#include "log.h"
#include "xmalloc.h"

char *secret_read_line(FILE *f)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

void secret_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

char *secret_line(const char *file, int which, const char *env)
{
    static char *stdin_lines[3];
    static bool stdin_read;
    char *s = NULL;
    if (file && strcmp(file, "-") == 0) {
        if (!stdin_read) {
            for (int i = 0; i < 3 && (stdin_lines[i] = secret_read_line(stdin)); i++)
                ;
            stdin_read = true;
        }
        /* Each line is handed out once, then only its owner holds it. */
        char *line = which >= 0 && which < 3 ? stdin_lines[which] : NULL;
        if (which >= 0 && which < 3)
            stdin_lines[which] = NULL;
        return line;
    }
    if (file) {
        FILE *f = fopen(file, "r");
        if (!f)
            fatal("cannot open '%s'", file);
        for (int i = 0; i <= which; i++) {
            secret_free(s);
            if (!(s = secret_read_line(f)))
                break;
        }
        fclose(f);
        return s;
    }
    return env && getenv(env) ? xstrdup(getenv(env)) : NULL;
}

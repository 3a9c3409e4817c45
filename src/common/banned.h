/* banned.h - functions that are too easy to misuse. Included last by
 * compat.h, after the libc headers that declare them, so that any later use
 * fails to compile. Use snprintf, strtol/strtoull with end checks, gmtime_r
 * and strtok_r instead. */
#ifndef PARLEY_BANNED_H
#define PARLEY_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef gmtime
#define gmtime(x) BANNED(gmtime)
#undef localtime
#define localtime(x) BANNED(localtime)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)

#endif

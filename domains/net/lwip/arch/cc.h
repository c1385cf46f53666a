/* lwIP's compiler and platform port for Lamina (x86-64, GCC; freestanding in the net domain,
 * hosted in the host tests). The functions declared here are defined in domains/net/lwip_port.cpp
 * over the instance's NetPlatform. */
#ifndef LAMINA_LWIP_ARCH_CC_H
#define LAMINA_LWIP_ARCH_CC_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define BYTE_ORDER LITTLE_ENDIAN

/* A freestanding build has no <inttypes.h>, <ctype.h> or <unistd.h>: lwIP then uses its own
 * character classes and these printf formats (for its diagnostics). */
#define LWIP_NO_INTTYPES_H 1
#define LWIP_NO_CTYPE_H 1
#define LWIP_NO_UNISTD_H 1
#define X8_F "02x"
#define U16_F "u"
#define S16_F "d"
#define X16_F "x"
#define U32_F "u"
#define S32_F "d"
#define X32_F "x"
#define SZT_F "zu"
/* lwIP wants ssize_t, which only POSIX headers declare: the same type as on Linux x86-64. */
typedef long ssize_t;
#ifndef SSIZE_MAX
#define SSIZE_MAX LONG_MAX
#endif

/* Byte swaps as single instructions rather than lwIP's shift-and-mask functions. */
#define lwip_htons(x) ((u16_t)__builtin_bswap16((u16_t)(x)))
#define lwip_htonl(x) ((u32_t)__builtin_bswap32((u32_t)(x)))

#define LWIP_PLATFORM_DIAG(x) \
    do {                      \
        lamina_net_diag x;    \
    } while (0)
#define LWIP_PLATFORM_ASSERT(x) lamina_net_assert((x), __FILE__, __LINE__)

#ifdef __cplusplus
extern "C" {
#endif
void lamina_net_diag(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
/* A broken invariant inside lwIP: the instance cannot go on (the domain fails and restarts). */
void lamina_net_assert(const char* message, const char* file, int line) __attribute__((noreturn));
uint32_t lamina_net_random(void);
#ifdef __cplusplus
}
#endif

#endif

// The errno names the AF_INET test programs print (the same on Linux and Lamina).
#pragma once
#include <errno.h>

__attribute__((unused)) static const char* err_name(int e) {
    switch (e) {
        case 0:
            return "0";
        case EAGAIN:
            return "EAGAIN";
        case EINVAL:
            return "EINVAL";
        case EPIPE:
            return "EPIPE";
        case ECONNREFUSED:
            return "ECONNREFUSED";
        case ECONNRESET:
            return "ECONNRESET";
        case EADDRINUSE:
            return "EADDRINUSE";
        case EINPROGRESS:
            return "EINPROGRESS";
        case EALREADY:
            return "EALREADY";
        case EISCONN:
            return "EISCONN";
        case ENOTCONN:
            return "ENOTCONN";
        case EAFNOSUPPORT:
            return "EAFNOSUPPORT";
        case EPROTONOSUPPORT:
            return "EPROTONOSUPPORT";
        case ESOCKTNOSUPPORT:
            return "ESOCKTNOSUPPORT";
        case EOPNOTSUPP:
            return "EOPNOTSUPP";
        case EDESTADDRREQ:
            return "EDESTADDRREQ";
        case ENOPROTOOPT:
            return "ENOPROTOOPT";
        case EBADF:
            return "EBADF";
        case ENOTSOCK:
            return "ENOTSOCK";
        case EFAULT:
            return "EFAULT";
        case EACCES:
            return "EACCES";
        default:
            return "other";
    }
}

/* Debian's musl-dev ships neither crypt() nor <crypt.h>, yet nginx's ngx_linux_config.h includes
 * <crypt.h> on every Linux build. The only user of crypt() is the auth_basic module, which the
 * build leaves out (ports/nginx/README.md), so an empty header is all the include needs. */
#ifndef LAMINA_NGINX_CRYPT_H
#define LAMINA_NGINX_CRYPT_H
#endif

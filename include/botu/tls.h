/*
 * tls.h - checks a server's certificate chain ourselves, because Debian's
 * libetpan checks nothing (LIBRARIES.md §1.1): run after the handshake and
 * before any credential is sent.
 */
#ifndef BOTU_TLS_H
#define BOTU_TLS_H

#include <stddef.h>

#include "botu/err.h"

struct tls_cert {
	const unsigned char	*der;
	size_t			 len;
};

/*
 * Verifies chain (DER certificates, the server's own first) for host
 * (a DNS name or an IP address) and TLS server use, against ca_file (PEM)
 * when it is not NULL or "", else against the system's trust store.
 * BOTU_OK, or BOTU_ECONFIG with err saying why, in words an organiser can
 * act on ("the certificate is for wrong.example, not 127.0.0.1").
 */
int	tls_verify_chain(const struct tls_cert *chain, size_t n,
	    const char *host, const char *ca_file, char err[BOTU_ERRLEN]);

#endif

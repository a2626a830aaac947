/*
 * authres.h - trusts an Authentication-Results header (RFC 8601) only from
 * the configured authserv-id, and only the topmost one carrying it: the
 * receiving server adds its own on top, anything below may be forged.
 */
#ifndef BOTU_AUTHRES_H
#define BOTU_AUTHRES_H

#include "botu/message.h"

/*
 * 1 when the topmost Authentication-Results header of authserv_id says
 * dmarc=pass for the domain of the From address; 0 otherwise, and always 0
 * when authserv_id is NULL or "".
 */
int	authres_dmarc_pass(const struct message *, const char *authserv_id);

#endif

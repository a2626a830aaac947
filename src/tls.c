/* tls.c - see tls.h */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "botu/tls.h"
#include "botu/util.h"

/* At most this many names of a certificate go into an error message. */
#define TLS_NAMES_SHOWN 4

/* Appends "; " between reasons. */
static void
add_reason(struct buf *why, const char *text)
{
	if (why->len > 0)
		buf_adds(why, "; ");
	buf_adds(why, text);
}

/* Copies a name from a certificate for printing: controls become '?'. */
static void
add_printable(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n && s[i] != '\0'; i++)
		buf_addc(b, (unsigned char)s[i] < 0x20 ||
		    (unsigned char)s[i] == 0x7f ? '?' : s[i]);
}

/*
 * The names a certificate is for: its subjectAltName DNS names and IP
 * addresses, or the subject's CN when it has none (RFC 6125 §6.4.4).
 */
static void
cert_names(gnutls_x509_crt_t crt, const char *host, struct buf *out)
{
	char name[256], ip[INET6_ADDRSTRLEN];
	size_t size;
	unsigned int shown = 0, critical;
	int type;

	for (unsigned int seq = 0; ; seq++) {
		size = sizeof(name);
		type = gnutls_x509_crt_get_subject_alt_name(crt, seq, name,
		    &size, &critical);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (type == GNUTLS_E_SHORT_MEMORY_BUFFER || type < 0)
			continue;
		if (type != GNUTLS_SAN_DNSNAME && type != GNUTLS_SAN_IPADDRESS)
			continue;
		if (shown == TLS_NAMES_SHOWN) {
			buf_adds(out, ", ...");
			return;
		}
		if (shown++ > 0)
			buf_adds(out, ", ");
		if (type == GNUTLS_SAN_DNSNAME) {
			add_printable(out, name, size);
			/* RFC 6125 §6.2.1: an address must be an iPAddress */
			if (size == strlen(host) &&
			    memcmp(name, host, size) == 0)
				buf_adds(out, " (a name, not an IP address)");
		} else if ((size == 4 || size == 16) && inet_ntop(size == 4 ?
		    AF_INET : AF_INET6, name, ip, sizeof(ip)) != NULL)
			buf_adds(out, ip);
		else
			buf_adds(out, "(an odd IP address)");
	}
	if (shown > 0)
		return;
	size = sizeof(name);
	if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
	    0, name, &size) == 0)
		add_printable(out, name, size);
	else
		buf_adds(out, "no name at all");
}

static void
add_date(struct buf *b, time_t t)
{
	struct tm tm;
	char day[32];

	if (gmtime_r(&t, &tm) != NULL &&
	    strftime(day, sizeof(day), "%Y-%m-%d", &tm) > 0)
		buf_adds(b, day);
	else
		buf_adds(b, "an unknown date");
}

/* Puts the reasons of a failed verification into words. */
static void
explain(unsigned int status, gnutls_x509_crt_t leaf, const char *host,
    const char *ca_file, struct buf *why)
{
	struct buf b;

	buf_init(&b);
	if (status & GNUTLS_CERT_UNEXPECTED_OWNER) {
		buf_adds(&b, "the certificate is for ");
		cert_names(leaf, host, &b);
		buf_addf(&b, ", not %s", host);
		add_reason(why, b.s);
		buf_truncate(&b, 0);
	}
	if (status & GNUTLS_CERT_SIGNER_NOT_FOUND) {
		if (ca_file != NULL)
			buf_addf(&b, "issuer unknown: not signed by the CA in "
			    "ca_file %s", ca_file);
		else
			buf_adds(&b, "issuer unknown: not signed by a trusted "
			    "authority (set [imap] ca_file for a private CA)");
		add_reason(why, b.s);
		buf_truncate(&b, 0);
	}
	if (status & GNUTLS_CERT_EXPIRED) {
		buf_adds(&b, "expired on ");
		add_date(&b, gnutls_x509_crt_get_expiration_time(leaf));
		add_reason(why, b.s);
		buf_truncate(&b, 0);
	}
	if (status & GNUTLS_CERT_NOT_ACTIVATED) {
		buf_adds(&b, "not valid before ");
		add_date(&b, gnutls_x509_crt_get_activation_time(leaf));
		buf_adds(&b, " (check this machine's clock)");
		add_reason(why, b.s);
		buf_truncate(&b, 0);
	}
	if (status & GNUTLS_CERT_REVOKED)
		add_reason(why, "revoked");
	if (status & GNUTLS_CERT_SIGNER_NOT_CA)
		add_reason(why, "signed by a certificate that is no CA");
	if (status & GNUTLS_CERT_INSECURE_ALGORITHM)
		add_reason(why, "signed with an insecure algorithm");
	if (status & GNUTLS_CERT_SIGNATURE_FAILURE)
		add_reason(why, "the signature does not verify");
	if (status & GNUTLS_CERT_PURPOSE_MISMATCH)
		add_reason(why, "not meant for a TLS server");
	if (why->len == 0) {
		/* A status bit we have no words for: GnuTLS's own. */
		gnutls_datum_t out = { NULL, 0 };

		if (gnutls_certificate_verification_status_print(status,
		    GNUTLS_CRT_X509, &out, 0) == 0 && out.data != NULL)
			buf_adds(why, (const char *)out.data);
		else
			buf_addf(why, "not trusted (status %#x)", status);
		gnutls_free(out.data);
	}
	buf_free(&b);
}

static int
load_trust(gnutls_x509_trust_list_t tl, const char *ca_file, char *err)
{
	int n;

	if (ca_file != NULL) {
		n = gnutls_x509_trust_list_add_trust_file(tl, ca_file, NULL,
		    GNUTLS_X509_FMT_PEM, 0, 0);
		if (n <= 0) {
			snprintf(err, BOTU_ERRLEN, "ca_file %s holds no PEM "
			    "certificate (%s)", ca_file, n < 0 ?
			    gnutls_strerror(n) : "none found");
			return -1;
		}
		return 0;
	}
	n = gnutls_x509_trust_list_add_system_trust(tl, 0, 0);
	if (n <= 0) {
		snprintf(err, BOTU_ERRLEN, "the system has no trusted "
		    "authorities (install ca-certificates, or set ca_file)");
		return -1;
	}
	return 0;
}

int
tls_verify_chain(const struct tls_cert *chain, size_t n, const char *host,
    const char *ca_file, char err[BOTU_ERRLEN])
{
	gnutls_x509_crt_t *crt = NULL;
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_typed_vdata_st vd[2];
	unsigned char ip[16];
	unsigned int status = 0;
	struct buf why;
	int r, ret = BOTU_ECONFIG;

	buf_init(&why);
	if (ca_file != NULL && ca_file[0] == '\0')
		ca_file = NULL;
	if (chain == NULL || n == 0) {
		snprintf(err, BOTU_ERRLEN, "%s sent no certificate", host);
		goto out;
	}
	if (n > 16) {
		snprintf(err, BOTU_ERRLEN, "%s sent a chain of %zu "
		    "certificates; refusing more than 16", host, n);
		goto out;
	}
	crt = xcalloc(n, sizeof(*crt));
	for (size_t i = 0; i < n; i++) {
		gnutls_datum_t d = { (unsigned char *)chain[i].der,
		    (unsigned int)chain[i].len };

		r = gnutls_x509_crt_init(&crt[i]);
		if (r == 0)
			r = gnutls_x509_crt_import(crt[i], &d,
			    GNUTLS_X509_FMT_DER);
		if (r < 0) {
			snprintf(err, BOTU_ERRLEN, "certificate %zu from %s "
			    "cannot be read: %s", i + 1, host,
			    gnutls_strerror(r));
			goto out;
		}
	}
	r = gnutls_x509_trust_list_init(&tl, 0);
	if (r < 0) {
		snprintf(err, BOTU_ERRLEN, "GnuTLS: %s", gnutls_strerror(r));
		goto out;
	}
	if (load_trust(tl, ca_file, err) < 0)
		goto out;

	/*
	 * An IP address is checked against the iPAddress entries of
	 * subjectAltName (RFC 5280 §4.2.1.6) as 4 or 16 raw octets. GnuTLS
	 * 3.7.9 skips the check without a word when GNUTLS_DT_IP_ADDRESS
	 * gets the address as text (size 0), so never hand it text.
	 */
	memset(vd, 0, sizeof(vd));
	if (inet_pton(AF_INET, host, ip) == 1) {
		vd[0].type = GNUTLS_DT_IP_ADDRESS;
		vd[0].data = ip;
		vd[0].size = 4;
	} else if (inet_pton(AF_INET6, host, ip) == 1) {
		vd[0].type = GNUTLS_DT_IP_ADDRESS;
		vd[0].data = ip;
		vd[0].size = 16;
	} else {
		vd[0].type = GNUTLS_DT_DNS_HOSTNAME;
		vd[0].data = (unsigned char *)host;
	}
	vd[1].type = GNUTLS_DT_KEY_PURPOSE_OID;
	vd[1].data = (unsigned char *)GNUTLS_KP_TLS_WWW_SERVER;

	r = gnutls_x509_trust_list_verify_crt2(tl, crt, (unsigned int)n, vd,
	    2, 0, &status, NULL);
	if (r < 0) {
		snprintf(err, BOTU_ERRLEN, "cannot verify the certificate of "
		    "%s: %s", host, gnutls_strerror(r));
		goto out;
	}
	if (status != 0) {
		explain(status, crt[0], host, ca_file, &why);
		snprintf(err, BOTU_ERRLEN, "certificate of %s refused: %s",
		    host, why.s);
		goto out;
	}
	ret = BOTU_OK;
out:
	if (tl != NULL)
		gnutls_x509_trust_list_deinit(tl, 1);
	for (size_t i = 0; crt != NULL && i < n; i++)
		if (crt[i] != NULL)
			gnutls_x509_crt_deinit(crt[i]);
	free(crt);
	buf_free(&why);
	return ret;
}

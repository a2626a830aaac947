/*
 * Unit tests of tls_verify_chain() against throwaway certificates that
 * openssl makes in the setup: a private CA, a server certificate for
 * localhost and 127.0.0.1, one for another name, a self-signed one, an
 * expired one, one behind an intermediate CA and one for clients only.
 */
#include "testutil.h"

#include "botu/tls.h"
#include "botu/util.h"

struct fixture {
	char *dir;
};

/* openssl, quiet; every certificate also as DER for the tests. */
static const char make_certs[] =
    "set -e\n"
    "cd \"$1\"\n"
    "exec 2>openssl.log\n"
    "ext() { printf '%s\\n' \"$@\" > \"$E\"; }\n"
    "E=ext.cnf\n"
    "ca() {\n"
    "  openssl req -x509 -newkey rsa:2048 -nodes -keyout $1.key \\\n"
    "    -out $1.pem -days 30 -subj \"/CN=$2\" \\\n"
    "    -addext basicConstraints=critical,CA:TRUE \\\n"
    "    -addext keyUsage=critical,keyCertSign,cRLSign\n"
    "}\n"
    "leaf() {\n"
    "  openssl req -newkey rsa:2048 -nodes -keyout $1.key -out $1.csr \\\n"
    "    -subj \"/CN=$2\"\n"
    "  openssl x509 -req -in $1.csr -CA $3.pem -CAkey $3.key \\\n"
    "    -CAcreateserial -out $1.pem -days $4 -extfile $E\n"
    "}\n"
    "ca ca 'Botu Test CA'\n"
    "ca otherca 'Another CA'\n"
    "ext 'subjectAltName=DNS:localhost,IP:127.0.0.1' "
    "'extendedKeyUsage=serverAuth' 'basicConstraints=CA:FALSE'\n"
    "leaf good localhost ca 30\n"
    "leaf expired localhost ca -1\n"
    "ext 'subjectAltName=DNS:wrong.example'\n"
    "leaf wrong wrong.example ca 30\n"
    "ext 'subjectAltName=DNS:localhost,DNS:127.0.0.1'\n"
    "leaf dnsip localhost ca 30\n"
    "ext 'subjectAltName=DNS:localhost' 'extendedKeyUsage=clientAuth'\n"
    "leaf client localhost ca 30\n"
    "ext 'basicConstraints=critical,CA:TRUE' "
    "'keyUsage=critical,keyCertSign'\n"
    "leaf inter 'Botu Intermediate' ca 30\n"
    "ext 'subjectAltName=DNS:mail.example.org'\n"
    "leaf deep mail.example.org inter 30\n"
    "openssl req -x509 -newkey rsa:2048 -nodes -keyout self.key \\\n"
    "  -out self.pem -days 30 -subj /CN=localhost \\\n"
    "  -addext subjectAltName=DNS:localhost\n"
    "for c in *.pem; do\n"
    "  openssl x509 -in $c -outform DER -out ${c%.pem}.der\n"
    "done\n";

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char *script, cmd[600];

	f->dir = tmpdir_new();
	script = write_file(f->dir, "make-certs.sh", make_certs, 0700);
	snprintf(cmd, sizeof(cmd), "sh '%s' '%s' || { cat '%s/openssl.log' "
	    ">&2; exit 1; }", script, f->dir, f->dir);
	if (system(cmd) != 0)
		fail_msg("openssl could not make the test certificates");
	free(script);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	tmpdir_remove(f->dir);
	free(f);
	return 0;
}

/* A chain read from DER files; the caller frees each der and the array. */
struct chain {
	struct tls_cert c[4];
	size_t n;
};

static void
chain_add(struct chain *ch, const struct fixture *f, const char *name)
{
	char path[600];
	unsigned char *data;
	long size;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s.der", f->dir, name);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	size = ftell(fp);
	assert_true(size > 0);
	rewind(fp);
	data = malloc((size_t)size);
	assert_int_equal(fread(data, 1, (size_t)size, fp), (size_t)size);
	fclose(fp);
	assert_true(ch->n < 4);
	ch->c[ch->n].der = data;
	ch->c[ch->n].len = (size_t)size;
	ch->n++;
}

static void
chain_free(struct chain *ch)
{
	for (size_t i = 0; i < ch->n; i++)
		free((void *)ch->c[i].der);
	ch->n = 0;
}

static char *
ca_path(const struct fixture *f, const char *name)
{
	return xasprintf("%s/%s.pem", f->dir, name);
}

/* Verifies leaf (and inter, when not NULL) for host against CA ca. */
static int
verify(const struct fixture *f, const char *leaf, const char *inter,
    const char *host, const char *ca, char *err)
{
	struct chain ch = { .n = 0 };
	char *cafile = ca != NULL ? ca_path(f, ca) : NULL;
	int rc;

	chain_add(&ch, f, leaf);
	if (inter != NULL)
		chain_add(&ch, f, inter);
	err[0] = '\0';
	rc = tls_verify_chain(ch.c, ch.n, host, cafile, err);
	chain_free(&ch);
	free(cafile);
	return rc;
}

static void
expect_refused(const struct fixture *f, const char *leaf, const char *host,
    const char *ca, const char *needle)
{
	char err[BOTU_ERRLEN];

	assert_int_equal(verify(f, leaf, NULL, host, ca, err), BOTU_ECONFIG);
	if (strstr(err, needle) == NULL)
		fail_msg("error '%s' lacks '%s'", err, needle);
}

static void
test_right_host_passes(void **state)
{
	struct fixture *f = *state;
	char err[BOTU_ERRLEN];

	assert_int_equal(verify(f, "good", NULL, "localhost", "ca", err),
	    BOTU_OK);
	/* Host names compare without regard to case (RFC 4343). */
	assert_int_equal(verify(f, "good", NULL, "LocalHost", "ca", err),
	    BOTU_OK);
}

static void
test_ip_san(void **state)
{
	struct fixture *f = *state;
	char err[BOTU_ERRLEN];

	/* The iPAddress entry 127.0.0.1 matches... */
	assert_int_equal(verify(f, "good", NULL, "127.0.0.1", "ca", err),
	    BOTU_OK);
	/* ...and no other address does. */
	expect_refused(f, "good", "127.0.0.2", "ca",
	    "the certificate is for localhost, 127.0.0.1, not 127.0.0.2");
	/* An address written as a DNS name entry is no iPAddress entry. */
	expect_refused(f, "dnsip", "127.0.0.1", "ca",
	    "the certificate is for localhost, 127.0.0.1 (a name, not an IP "
	    "address), not 127.0.0.1");
	expect_refused(f, "good", "::1", "ca", "not ::1");
}

static void
test_wrong_host_fails(void **state)
{
	struct fixture *f = *state;

	expect_refused(f, "wrong", "localhost", "ca",
	    "certificate of localhost refused: the certificate is for "
	    "wrong.example, not localhost");
	expect_refused(f, "wrong", "127.0.0.1", "ca",
	    "the certificate is for wrong.example, not 127.0.0.1");
	expect_refused(f, "good", "mail.example.org", "ca",
	    "not mail.example.org");
}

static void
test_unknown_issuer_fails(void **state)
{
	struct fixture *f = *state;

	/* Signed by a CA the system does not know. */
	expect_refused(f, "good", "localhost", NULL,
	    "issuer unknown: not signed by a trusted authority (set [imap] "
	    "ca_file for a private CA)");
	/* Signed by a CA other than the configured one. */
	expect_refused(f, "good", "localhost", "otherca",
	    "issuer unknown: not signed by the CA in ca_file");
	/* Self-signed, the usual "snake oil" certificate. */
	expect_refused(f, "self", "localhost", "ca", "issuer unknown");
	expect_refused(f, "self", "localhost", NULL, "issuer unknown");
}

static void
test_expired_fails(void **state)
{
	struct fixture *f = *state;

	expect_refused(f, "expired", "localhost", "ca", "expired on 20");
}

static void
test_intermediate(void **state)
{
	struct fixture *f = *state;
	char err[BOTU_ERRLEN];

	/* The server sends its intermediate: fine. */
	assert_int_equal(verify(f, "deep", "inter", "mail.example.org", "ca",
	    err), BOTU_OK);
	/* It forgets it: the chain does not reach the CA. */
	expect_refused(f, "deep", "mail.example.org", "ca", "issuer unknown");
}

static void
test_client_only_cert_fails(void **state)
{
	struct fixture *f = *state;

	expect_refused(f, "client", "localhost", "ca",
	    "not meant for a TLS server");
}

static void
test_bad_input(void **state)
{
	struct fixture *f = *state;
	struct tls_cert junk = { (const unsigned char *)"not DER", 7 };
	char err[BOTU_ERRLEN];
	char *cafile = ca_path(f, "ca");
	char *empty = write_file(f->dir, "empty.pem", "nothing here\n", 0600);

	assert_int_equal(tls_verify_chain(NULL, 0, "localhost", cafile, err),
	    BOTU_ECONFIG);
	assert_non_null(strstr(err, "localhost sent no certificate"));
	assert_int_equal(tls_verify_chain(&junk, 1, "localhost", cafile, err),
	    BOTU_ECONFIG);
	assert_non_null(strstr(err, "certificate 1 from localhost cannot be "
	    "read"));
	assert_int_equal(verify(f, "good", NULL, "localhost", "empty", err),
	    BOTU_ECONFIG);
	assert_non_null(strstr(err, "holds no PEM certificate"));
	free(cafile);
	free(empty);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_right_host_passes),
		cmocka_unit_test(test_ip_san),
		cmocka_unit_test(test_wrong_host_fails),
		cmocka_unit_test(test_unknown_issuer_fails),
		cmocka_unit_test(test_expired_fails),
		cmocka_unit_test(test_intermediate),
		cmocka_unit_test(test_client_only_cert_fails),
		cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

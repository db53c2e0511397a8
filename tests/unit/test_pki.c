/* Unit tests for lib/pki: the webhook CA and serving certificates, checked
 * by our own verifier and cross-checked with the openssl CLI. */
#include "t.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pki.h"
#include "util.h"

static const char *const DNS[] = {"secfaas-gvisor-webhook.openfaas.svc", "secfaas-gvisor-webhook.openfaas.svc.cluster.local",
				  NULL};

static void write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	fputs(s, f);
	fclose(f);
}

T_TEST(ca_and_leaf_verify)
{
	struct sf_err e = SF_ERR_INIT;
	struct sf_pki_pair ca = {0}, leaf = {0}, other = {0};
	time_t now = 1800000000;
	T_EQ(sf_pki_make_ca("secfaas test CA", 3650, now, &ca, &e), 0);
	T_EQ(sf_pki_make_leaf(&ca, DNS, 365, now, &leaf, &e), 0);
	T_OK(strstr(leaf.key_pem, "BEGIN PRIVATE KEY") != NULL);
	T_EQ(sf_pki_check(ca.cert_pem, leaf.cert_pem, leaf.key_pem, DNS[0], now, &e), 0);
	T_EQ(sf_pki_check(ca.cert_pem, leaf.cert_pem, leaf.key_pem, DNS[1], now + 86400, &e), 0);
	/* wrong name, expired, not yet valid, foreign CA, foreign key */
	T_EQ(sf_pki_check(ca.cert_pem, leaf.cert_pem, leaf.key_pem, "evil.openfaas.svc", now, &e), SF_EINVAL);
	T_OK(strstr(e.msg, "does not name evil.openfaas.svc") != NULL);
	T_EQ(sf_pki_check(ca.cert_pem, leaf.cert_pem, leaf.key_pem, DNS[0], now + 366L * 86400, &e), SF_EINVAL);
	T_OK(strstr(e.msg, "expired") != NULL);
	T_EQ(sf_pki_check(ca.cert_pem, leaf.cert_pem, leaf.key_pem, DNS[0], now - 7200, &e), SF_EINVAL);
	T_EQ(sf_pki_make_ca("other", 10, now, &other, &e), 0);
	T_EQ(sf_pki_check(other.cert_pem, leaf.cert_pem, leaf.key_pem, DNS[0], now, &e), SF_EINVAL);
	T_EQ(sf_pki_check(ca.cert_pem, leaf.cert_pem, other.key_pem, DNS[0], now, &e), SF_EINVAL);
	T_OK(strstr(e.msg, "key does not belong") != NULL);
	T_EQ(sf_pki_check(ca.cert_pem, "garbage", leaf.key_pem, DNS[0], now, &e), SF_EINVAL);
	/* expiry: one year, an hour of back-dating does not move notAfter */
	time_t na = 0;
	T_EQ(sf_pki_not_after(leaf.cert_pem, &na, &e), 0);
	T_EQ((long)(na - now), 365L * 86400);
	T_EQ(sf_pki_not_after("nope", &na, &e), SF_ECRYPTO);
	sf_pki_pair_release(&ca);
	sf_pki_pair_release(&leaf);
	sf_pki_pair_release(&other);
}

T_TEST(leaf_never_outlives_ca)
{
	struct sf_err e = SF_ERR_INIT;
	struct sf_pki_pair ca = {0}, leaf = {0};
	time_t now = 1800000000, ca_end = 0, leaf_end = 0;
	T_EQ(sf_pki_make_ca("short CA", 30, now, &ca, &e), 0);
	T_EQ(sf_pki_make_leaf(&ca, DNS, 365, now, &leaf, &e), 0);
	T_EQ(sf_pki_not_after(ca.cert_pem, &ca_end, &e), 0);
	T_EQ(sf_pki_not_after(leaf.cert_pem, &leaf_end, &e), 0);
	T_EQ((long)leaf_end, (long)ca_end);
	const char *none[] = {NULL};
	sf_pki_pair_release(&leaf);
	T_EQ(sf_pki_make_leaf(&ca, none, 365, now, &leaf, &e), SF_EINVAL);
	struct sf_pki_pair bad = {.key_pem = (char *)"x", .cert_pem = (char *)"y"};
	T_EQ(sf_pki_make_leaf(&bad, DNS, 365, now, &leaf, &e), SF_ECRYPTO);
	sf_pki_pair_release(&ca);
}

/* The openssl CLI (what the API server's Go TLS would also check: chain,
 * purpose serverAuth, host name) agrees with sf_pki_check. */
T_TEST(openssl_cli_agrees)
{
	if (access("/usr/bin/openssl", X_OK) != 0) {
		printf("skip: no /usr/bin/openssl\n");
		return;
	}
	struct sf_err e = SF_ERR_INIT;
	struct sf_pki_pair ca = {0}, leaf = {0};
	time_t now = time(NULL);
	T_EQ(sf_pki_make_ca("secfaas test CA", 3650, now, &ca, &e), 0);
	T_EQ(sf_pki_make_leaf(&ca, DNS, 365, now, &leaf, &e), 0);
	char dir[] = "/tmp/sf-pki-XXXXXX";
	T_OK(mkdtemp(dir) != NULL);
	char *cap = xasprintf("%s/ca.pem", dir), *lp = xasprintf("%s/leaf.pem", dir);
	write_file(cap, ca.cert_pem);
	write_file(lp, leaf.cert_pem);
	char *ok = xasprintf("openssl verify -purpose sslserver -verify_hostname %s -CAfile %s %s >/dev/null 2>&1", DNS[0],
			     cap, lp);
	char *bad = xasprintf("openssl verify -purpose sslserver -verify_hostname other.svc -CAfile %s %s >/dev/null 2>&1",
			      cap, lp);
	char *isca = xasprintf("openssl x509 -in %s -noout -ext basicConstraints 2>/dev/null | grep -q 'CA:TRUE'", cap);
	T_EQ(system(ok), 0);
	T_OK(system(bad) != 0);
	T_EQ(system(isca), 0);
	char *rm = xasprintf("rm -rf %s", dir);
	T_EQ(system(rm), 0);
	free(cap);
	free(lp);
	free(ok);
	free(bad);
	free(isca);
	free(rm);
	sf_pki_pair_release(&ca);
	sf_pki_pair_release(&leaf);
}

T_MAIN()

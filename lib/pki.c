/*
 * pki.c - CA and serving certificates with OpenSSL 3 (see pki.h).
 */
#include "pki.h"

#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util.h"

/* Issued certificates start an hour in the past so a node or API server
 * whose clock is slightly behind ours still accepts them. */
#define SKEW_S 3600

static int ossl_fail(struct sf_err *err, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "unknown error";
	if (e)
		ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	return sf_fail(err, SF_ECRYPTO, "%s: %s", what, buf);
}

static char *bio_str(BIO *b)
{
	char *p = NULL;
	long n = BIO_get_mem_data(b, &p);
	char *s = xmalloc((size_t)n + 1);
	memcpy(s, p, (size_t)n);
	s[n] = 0;
	return s;
}

static X509 *pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return x;
}

static EVP_PKEY *pem_key(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	return k;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	int ok = e && X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok;
}

/* A new certificate for key, valid [now - skew, not_after], with a random
 * 127-bit serial; subject CN = cn; issuer set by the caller. */
static X509 *new_cert(EVP_PKEY *key, const char *cn, time_t now, time_t not_after)
{
	X509 *x = X509_new();
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	ASN1_INTEGER *sn = NULL;
	int ok = x && RAND_bytes(serial, sizeof serial) == 1;
	if (ok) {
		serial[0] &= 0x7f; /* positive, at most 20 octets (RFC 5280) */
		ok = (bn = BN_bin2bn(serial, sizeof serial, NULL)) && (sn = BN_to_ASN1_INTEGER(bn, NULL)) &&
		     X509_set_serialNumber(x, sn) && X509_set_version(x, 2) &&
		     X509_time_adj_ex(X509_getm_notBefore(x), 0, -SKEW_S, &now) &&
		     X509_time_adj_ex(X509_getm_notAfter(x), 0, 0, &not_after) && X509_set_pubkey(x, key) &&
		     X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
						-1, 0);
	}
	BN_free(bn);
	ASN1_INTEGER_free(sn);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int finish(X509 *x, EVP_PKEY *key, EVP_PKEY *signer, struct sf_pki_pair *out, struct sf_err *err)
{
	if (!X509_sign(x, signer, EVP_sha256()))
		return ossl_fail(err, "signing certificate");
	BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
	int ok = kb && cb && PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) && PEM_write_bio_X509(cb, x);
	if (ok) {
		out->key_pem = bio_str(kb);
		out->cert_pem = bio_str(cb);
	}
	BIO_free_all(kb); /* BIO_s_mem frees (not wipes) its buffer */
	BIO_free_all(cb);
	return ok ? 0 : ossl_fail(err, "encoding certificate");
}

int sf_pki_make_ca(const char *cn, int days, time_t now, struct sf_pki_pair *out, struct sf_err *err)
{
	memset(out, 0, sizeof *out);
	EVP_PKEY *key = EVP_EC_gen("P-256");
	if (!key)
		return ossl_fail(err, "generating CA key");
	X509 *x = new_cert(key, cn, now, now + (time_t)days * 86400);
	int rc;
	if (!x || !X509_set_issuer_name(x, X509_get_subject_name(x)) ||
	    !add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
	    !add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !add_ext(x, x, NID_subject_key_identifier, "hash"))
		rc = ossl_fail(err, "building CA certificate");
	else
		rc = finish(x, key, key, out, err);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

int sf_pki_make_leaf(const struct sf_pki_pair *ca, const char *const *dns, int days, time_t now,
		     struct sf_pki_pair *out, struct sf_err *err)
{
	memset(out, 0, sizeof *out);
	if (!dns || !dns[0])
		return sf_fail(err, SF_EINVAL, "a serving certificate needs at least one DNS name");
	X509 *cax = pem_cert(ca->cert_pem);
	EVP_PKEY *cakey = pem_key(ca->key_pem), *key = NULL;
	X509 *x = NULL;
	int rc = 0;
	if (!cax || !cakey) {
		rc = ossl_fail(err, "reading the CA from state");
		goto out;
	}
	if (!(key = EVP_EC_gen("P-256"))) {
		rc = ossl_fail(err, "generating serving key");
		goto out;
	}
	time_t end = now + (time_t)days * 86400, ca_end = 0;
	if (sf_pki_not_after(ca->cert_pem, &ca_end, err) < 0) {
		rc = err->code;
		goto out;
	}
	if (end > ca_end)
		end = ca_end;
	struct sf_buf san = SF_BUF_INIT;
	for (size_t i = 0; dns[i]; i++)
		sf_buf_printf(&san, "%sDNS:%s", i ? "," : "", dns[i]);
	x = new_cert(key, dns[0], now, end);
	if (!x || !X509_set_issuer_name(x, X509_get_subject_name(cax)) ||
	    !add_ext(x, cax, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(x, cax, NID_key_usage, "critical,digitalSignature") ||
	    !add_ext(x, cax, NID_ext_key_usage, "serverAuth") || !add_ext(x, cax, NID_subject_key_identifier, "hash") ||
	    !add_ext(x, cax, NID_authority_key_identifier, "keyid:always") ||
	    !add_ext(x, cax, NID_subject_alt_name, sf_buf_cstr(&san)))
		rc = ossl_fail(err, "building serving certificate");
	else
		rc = finish(x, key, cakey, out, err);
	sf_buf_release(&san);
out:
	X509_free(x);
	X509_free(cax);
	EVP_PKEY_free(key);
	EVP_PKEY_free(cakey);
	return rc;
}

int sf_pki_not_after(const char *cert_pem, time_t *out, struct sf_err *err)
{
	X509 *x = cert_pem ? pem_cert(cert_pem) : NULL;
	struct tm tm;
	if (!x || !ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm)) {
		X509_free(x);
		return ossl_fail(err, "reading certificate expiry");
	}
	X509_free(x);
	*out = timegm(&tm);
	return 0;
}

int sf_pki_check(const char *ca_cert_pem, const char *cert_pem, const char *key_pem, const char *dns, time_t now,
		 struct sf_err *err)
{
	X509 *ca = ca_cert_pem ? pem_cert(ca_cert_pem) : NULL, *x = cert_pem ? pem_cert(cert_pem) : NULL;
	EVP_PKEY *key = key_pem ? pem_key(key_pem) : NULL;
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int rc = 0;
	if (!ca || !x || !key || !st || !ctx) {
		ERR_clear_error();
		rc = sf_fail(err, SF_EINVAL, "certificate, CA or key missing or not PEM");
		goto out;
	}
	if (X509_check_private_key(x, key) != 1) {
		ERR_clear_error();
		rc = sf_fail(err, SF_EINVAL, "the key does not belong to the certificate");
		goto out;
	}
	if (dns && X509_check_host(x, dns, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) != 1) {
		rc = sf_fail(err, SF_EINVAL, "the certificate does not name %s", dns);
		goto out;
	}
	X509_STORE_add_cert(st, ca);
	X509_STORE_CTX_init(ctx, st, x, NULL);
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), now);
	X509_VERIFY_PARAM_set_purpose(X509_STORE_CTX_get0_param(ctx), X509_PURPOSE_SSL_SERVER);
	if (X509_verify_cert(ctx) != 1)
		rc = sf_fail(err, SF_EINVAL, "certificate does not verify against the CA: %s",
			     X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	X509_free(ca);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

void sf_pki_pair_release(struct sf_pki_pair *p)
{
	if (p->key_pem) {
		explicit_bzero(p->key_pem, strlen(p->key_pem));
		free(p->key_pem);
	}
	free(p->cert_pem);
	p->key_pem = p->cert_pem = NULL;
}

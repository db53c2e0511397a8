/* crypt.c - see crypt.h. */
#include "state/crypt.h"

#include <ctype.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "util.h"

int sf_crypt_pbkdf2(const char *pass, const unsigned char *salt, size_t salt_len, unsigned iter,
		    unsigned char key[SF_CRYPT_KEY_LEN], struct sf_err *err)
{
	if (!PKCS5_PBKDF2_HMAC(pass, (int)strlen(pass), salt, (int)salt_len, (int)iter, EVP_sha512(),
			       SF_CRYPT_KEY_LEN, key))
		return sf_fail(err, SF_ECRYPTO, "cannot derive the state key: PBKDF2 failed in OpenSSL");
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int sf_crypt_parse_key(const char *data, size_t n, const char *what,
		       unsigned char key[SF_CRYPT_KEY_LEN], struct sf_err *err)
{
	/* Raw first: a random 32-byte key may well look like anything, so the
	 * exact length decides before any whitespace trimming. */
	if (n == SF_CRYPT_KEY_LEN) {
		memcpy(key, data, SF_CRYPT_KEY_LEN);
		return 0;
	}
	size_t a = 0, b = n;
	while (a < b && isspace((unsigned char)data[a]))
		a++;
	while (b > a && isspace((unsigned char)data[b - 1]))
		b--;
	if (b - a == 2 * SF_CRYPT_KEY_LEN) {
		for (size_t i = 0; i < SF_CRYPT_KEY_LEN; i++) {
			int hi = hexval((unsigned char)data[a + 2 * i]);
			int lo = hexval((unsigned char)data[a + 2 * i + 1]);
			if (hi < 0 || lo < 0)
				goto bad;
			key[i] = (unsigned char)(hi << 4 | lo);
		}
		return 0;
	}
bad:
	OPENSSL_cleanse(key, SF_CRYPT_KEY_LEN);
	return sf_fail(err, SF_EINVAL,
		       "key file %s must hold 32 raw bytes or 64 hex digits (it has %zu bytes)", what, n);
}

void sf_crypt_kcv(const unsigned char key[SF_CRYPT_KEY_LEN], char out[65])
{
	static const char msg[] = "secfaas state key check v1";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	HMAC(EVP_sha256(), key, SF_CRYPT_KEY_LEN, (const unsigned char *)msg, sizeof msg - 1, md,
	     &mdlen);
	sf_hex(out, md, 32);
}

char *sf_b64_encode(const unsigned char *in, size_t n)
{
	return sf_b64encode(in, n);
}

int sf_b64_decode(const char *in, unsigned char **out, size_t *n)
{
	size_t len = strlen(in);
	*out = NULL;
	if (len % 4 || len > (size_t)1 << 30)
		return -1;
	unsigned char *buf = xmalloc(len / 4 * 3 + 1);
	int k = len ? EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len) : 0;
	if (k < 0) {
		free(buf);
		return -1;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes; drop them. */
	size_t pad = 0;
	if (len && in[len - 1] == '=')
		pad++;
	if (len > 1 && in[len - 2] == '=')
		pad++;
	*out = buf;
	*n = (size_t)k - pad;
	return 0;
}

int sf_crypt_seal(const unsigned char key[SF_CRYPT_KEY_LEN], const void *aad, size_t aad_len,
		  const void *pt, size_t n, char **out, struct sf_err *err)
{
	int rc = SF_ECRYPTO, len = 0;
	unsigned char *blob = xmalloc(SF_CRYPT_NONCE_LEN + n + SF_CRYPT_TAG_LEN);
	unsigned char *ct = blob + SF_CRYPT_NONCE_LEN;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	*out = NULL;
	if (sf_random(blob, SF_CRYPT_NONCE_LEN) < 0) {
		sf_fail(err, SF_ECRYPTO, "cannot encrypt a state secret: no random bytes from the OS");
		goto done;
	}
	if (!ctx || !EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SF_CRYPT_NONCE_LEN, NULL) ||
	    !EVP_EncryptInit_ex(ctx, NULL, NULL, key, blob) ||
	    !EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aad_len) ||
	    (n && !EVP_EncryptUpdate(ctx, ct, &len, pt, (int)n)) ||
	    !EVP_EncryptFinal_ex(ctx, ct + n, &len) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SF_CRYPT_TAG_LEN, ct + n)) {
		sf_fail(err, SF_ECRYPTO, "cannot encrypt a state secret: AES-256-GCM failed in OpenSSL");
		goto done;
	}
	char *b64 = sf_b64_encode(blob, SF_CRYPT_NONCE_LEN + n + SF_CRYPT_TAG_LEN);
	*out = xasprintf("%s%s", SF_CRYPT_ENVELOPE_PREFIX, b64);
	free(b64);
	rc = 0;
done:
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(blob, SF_CRYPT_NONCE_LEN + n + SF_CRYPT_TAG_LEN);
	free(blob);
	return rc;
}

int sf_crypt_open(const unsigned char key[SF_CRYPT_KEY_LEN], const void *aad, size_t aad_len,
		  const char *envelope, unsigned char **out, size_t *n, struct sf_err *err)
{
	int rc = SF_ECRYPTO, len = 0;
	unsigned char *blob = NULL, *pt = NULL;
	size_t blen = 0, ptlen = 0;
	EVP_CIPHER_CTX *ctx = NULL;
	*out = NULL;
	*n = 0;
	size_t plen = strlen(SF_CRYPT_ENVELOPE_PREFIX);
	if (strncmp(envelope, SF_CRYPT_ENVELOPE_PREFIX, plen) ||
	    sf_b64_decode(envelope + plen, &blob, &blen) < 0 ||
	    blen < SF_CRYPT_NONCE_LEN + SF_CRYPT_TAG_LEN) {
		sf_fail(err, SF_ECRYPTO, "encrypted value is malformed (expected \"v1:<base64>\")");
		goto done;
	}
	ptlen = blen - SF_CRYPT_NONCE_LEN - SF_CRYPT_TAG_LEN;
	pt = xmalloc(ptlen + 1);
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || !EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SF_CRYPT_NONCE_LEN, NULL) ||
	    !EVP_DecryptInit_ex(ctx, NULL, NULL, key, blob) ||
	    !EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aad_len) ||
	    (ptlen && !EVP_DecryptUpdate(ctx, pt, &len, blob + SF_CRYPT_NONCE_LEN, (int)ptlen)) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SF_CRYPT_TAG_LEN,
				 blob + SF_CRYPT_NONCE_LEN + ptlen) ||
	    EVP_DecryptFinal_ex(ctx, pt + ptlen, &len) <= 0) {
		/* Wrong key, wrong AAD and tampering all end here: GCM cannot
		 * tell them apart, and we never release unauthenticated bytes. */
		sf_fail(err, SF_ECRYPTO, "encrypted value failed authentication (wrong key or tampered data)");
		goto done;
	}
	pt[ptlen] = 0;
	*out = pt;
	*n = ptlen;
	pt = NULL;
	rc = 0;
done:
	EVP_CIPHER_CTX_free(ctx);
	if (pt) {
		OPENSSL_cleanse(pt, ptlen + 1);
		free(pt);
	}
	free(blob);
	return rc;
}

/* kms.c - AWS KMS data keys (see kms.h). */
#include "aws/kms.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "util.h"

#define CONTEXT_KEY "secfaas"
#define CONTEXT_VALUE "state"

/* Decode the base64 Plaintext of a reply into key[32]. */
static int take_plaintext(const json_t *reply, const char *op, unsigned char key[SF_KMS_DATA_KEY_LEN],
			  struct sf_err *err)
{
	const char *b64 = json_string_value(json_object_get(reply, "Plaintext"));
	size_t n = b64 ? strlen(b64) : 0;
	unsigned char *raw = xmalloc(n / 4 * 3 + 4);
	int len = n ? EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n) : -1;
	/* EVP_DecodeBlock counts padding bytes as data: drop them */
	if (len > 0 && n >= 2 && b64[n - 1] == '=')
		len -= b64[n - 2] == '=' ? 2 : 1;
	int rc = 0;
	if (len != SF_KMS_DATA_KEY_LEN)
		rc = sf_fail(err, SF_EPROTO, "KMS %s returned no 256-bit Plaintext key", op);
	else
		memcpy(key, raw, SF_KMS_DATA_KEY_LEN);
	OPENSSL_cleanse(raw, n / 4 * 3 + 4);
	free(raw);
	return rc;
}

int sf_kms_generate_data_key(struct sf_aws *c, const char *key_id, unsigned char key[SF_KMS_DATA_KEY_LEN],
			     char **blob, struct sf_err *err)
{
	json_t *out = NULL;
	*blob = NULL;
	json_t *body = json_pack("{s:s, s:s, s:{s:s}}", "KeyId", key_id ? key_id : "", "KeySpec", "AES_256",
				 "EncryptionContext", CONTEXT_KEY, CONTEXT_VALUE);
	int rc = sf_aws_json(c, "kms", "TrentService.GenerateDataKey", body, &out, err);
	json_decref(body);
	if (rc < 0)
		return rc;
	const char *ct = json_string_value(json_object_get(out, "CiphertextBlob"));
	if (!ct || !*ct)
		rc = sf_fail(err, SF_EPROTO, "KMS GenerateDataKey returned no CiphertextBlob");
	else if ((rc = take_plaintext(out, "GenerateDataKey", key, err)) == 0)
		*blob = xstrdup(ct);
	/* the reply held the plaintext key: wipe it before it is freed */
	json_t *pt = json_object_get(out, "Plaintext");
	if (json_is_string(pt))
		OPENSSL_cleanse((void *)json_string_value(pt), strlen(json_string_value(pt)));
	json_decref(out);
	return rc;
}

int sf_kms_decrypt(struct sf_aws *c, const char *blob, unsigned char key[SF_KMS_DATA_KEY_LEN],
		   struct sf_err *err)
{
	json_t *out = NULL;
	json_t *body = json_pack("{s:s, s:{s:s}}", "CiphertextBlob", blob ? blob : "", "EncryptionContext", CONTEXT_KEY,
				 CONTEXT_VALUE);
	int rc = sf_aws_json(c, "kms", "TrentService.Decrypt", body, &out, err);
	json_decref(body);
	if (rc < 0)
		return rc;
	rc = take_plaintext(out, "Decrypt", key, err);
	json_t *pt = json_object_get(out, "Plaintext");
	if (json_is_string(pt))
		OPENSSL_cleanse((void *)json_string_value(pt), strlen(json_string_value(pt)));
	json_decref(out);
	return rc;
}

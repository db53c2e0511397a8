/*
 * kms.h - the two AWS KMS calls envelope encryption needs (json 1.1,
 * TrentService): GenerateDataKey for a fresh AES-256 data key and Decrypt
 * to unwrap it again.
 *
 * Why: a state shared by many runners cannot keep its secret key on one
 * runner's disk.  KMS keeps the key-encryption key; the state stores only
 * the wrapped data key, and every runner allowed kms:Decrypt unwraps it.
 * Both calls carry the same encryption context ({"secfaas": "state"}) so a
 * data key made for state secrets is refused for anything else, and key
 * policies can require it (kms:EncryptionContext:secfaas).
 *
 * Ownership: *blob is an owned base64 string (free()).  Plaintext keys are
 * caller-owned buffers; wipe them with OPENSSL_cleanse.
 */
#ifndef SF_AWS_KMS_H
#define SF_AWS_KMS_H

#include "aws/client.h"

#define SF_KMS_DATA_KEY_LEN 32

/* key_id: key id, ARN, alias name ("alias/x") or alias ARN. */
int sf_kms_generate_data_key(struct sf_aws *c, const char *key_id, unsigned char key[SF_KMS_DATA_KEY_LEN],
			     char **blob, struct sf_err *err);
/* blob: the CiphertextBlob (base64) GenerateDataKey returned. */
int sf_kms_decrypt(struct sf_aws *c, const char *blob, unsigned char key[SF_KMS_DATA_KEY_LEN],
		   struct sf_err *err);

#endif

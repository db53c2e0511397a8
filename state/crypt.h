/*
 * crypt.h - the few cryptographic primitives the state store needs, all
 * through OpenSSL EVP: AES-256-GCM sealing of single values, PBKDF2 key
 * derivation from a passphrase, key files, and a key check value.
 *
 * Why a module of its own: the state store must never hand back garbage for
 * a wrong key or a tampered value, and that promise is easiest to keep (and
 * to test against known answers) in one small file that knows nothing about
 * SQLite.
 *
 * Envelope format (the string stored in {"$enc": ...}):
 *     "v1:" base64( nonce[12] | ciphertext[n] | tag[16] )
 * with a fresh random nonce per value and caller-chosen AAD (the state store
 * uses address + "\0" + attribute name, so a ciphertext copied onto another
 * resource or attribute fails authentication).
 *
 * Calling steps:
 *   1. sf_crypt_pbkdf2(pass, salt, ...) or sf_crypt_parse_key(file bytes) -> key
 *   2. sf_crypt_kcv(key) to compare against the stored check value
 *   3. sf_crypt_seal / sf_crypt_open per value
 *
 * Ownership: *out strings and buffers are owned by the caller (free()).
 * Keys are caller-owned fixed arrays; wipe them with OPENSSL_cleanse.
 */
#ifndef SF_STATE_CRYPT_H
#define SF_STATE_CRYPT_H

#include <stddef.h>

#include "err.h"

#define SF_CRYPT_KEY_LEN 32
#define SF_CRYPT_NONCE_LEN 12
#define SF_CRYPT_TAG_LEN 16
#define SF_CRYPT_PBKDF2_ITER 600000u
#define SF_CRYPT_MIN_PASSPHRASE 16
#define SF_CRYPT_ENVELOPE_PREFIX "v1:"

/* PBKDF2-HMAC-SHA512 of pass with salt, `iter` rounds, into key[32].
 * SF_ECRYPTO if OpenSSL fails (it does not for sane inputs). */
int sf_crypt_pbkdf2(const char *pass, const unsigned char *salt, size_t salt_len, unsigned iter,
		    unsigned char key[SF_CRYPT_KEY_LEN], struct sf_err *err);

/* Key file contents: 32 raw bytes, or 64 hex digits (surrounding whitespace
 * ignored). SF_EINVAL otherwise. `what` names the file in the message. */
int sf_crypt_parse_key(const char *data, size_t n, const char *what,
		       unsigned char key[SF_CRYPT_KEY_LEN], struct sf_err *err);

/* Key check value: hex HMAC-SHA256(key, "secfaas state key check v1").
 * Safe to store: it reveals nothing usable about the key. */
void sf_crypt_kcv(const unsigned char key[SF_CRYPT_KEY_LEN], char out[65]);

/* Encrypt pt[0..n) under key with AAD; *out = owned "v1:<base64>" string. */
int sf_crypt_seal(const unsigned char key[SF_CRYPT_KEY_LEN], const void *aad, size_t aad_len,
		  const void *pt, size_t n, char **out, struct sf_err *err);

/* Decrypt an envelope made by sf_crypt_seal. *out is owned, NUL-terminated
 * (not counted in *n). SF_ECRYPTO on a bad format, wrong key, wrong AAD or
 * tampering; *out is then NULL. */
int sf_crypt_open(const unsigned char key[SF_CRYPT_KEY_LEN], const void *aad, size_t aad_len,
		  const char *envelope, unsigned char **out, size_t *n, struct sf_err *err);

/* Standard base64 (with padding, no newlines). Encode returns owned string;
 * decode returns 0 and an owned buffer, or -1 on malformed input. */
char *sf_b64_encode(const unsigned char *in, size_t n);
int sf_b64_decode(const char *in, unsigned char **out, size_t *n);

#endif

/* test_state_crypt.c - known answers and failure modes for state/crypt.c. */
#include <string.h>

#include "state/crypt.h"
#include "t.h"
#include "util.h"

static void hex_of(char *out, const unsigned char *k, size_t n)
{
	sf_hex(out, k, n);
}

/* Vectors computed with the OpenSSL CLI:
 *   openssl kdf -keylen 32 -kdfopt digest:SHA512 -kdfopt pass:password \
 *       -kdfopt salt:salt -kdfopt iter:1 PBKDF2                               */
T_TEST(pbkdf2_sha512_known_answers)
{
	unsigned char k[SF_CRYPT_KEY_LEN];
	char hex[65];
	struct sf_err err = SF_ERR_INIT;
	T_EQ(sf_crypt_pbkdf2("password", (const unsigned char *)"salt", 4, 1, k, &err), 0);
	hex_of(hex, k, sizeof k);
	T_STREQ(hex, "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252");
	T_EQ(sf_crypt_pbkdf2("password", (const unsigned char *)"salt", 4, 2, k, &err), 0);
	hex_of(hex, k, sizeof k);
	T_STREQ(hex, "e1d9c16aa681708a45f5c7c4e215ceb66e011a2e9f0040713f18aefdb866d53c");
}

/* The production iteration count, salt 00..0f:
 *   openssl kdf ... -kdfopt pass:"correct horse battery staple" \
 *       -kdfopt hexsalt:000102030405060708090a0b0c0d0e0f -kdfopt iter:600000 PBKDF2 */
T_TEST(pbkdf2_600000_iterations)
{
	unsigned char salt[16], k[SF_CRYPT_KEY_LEN];
	char hex[65];
	for (int i = 0; i < 16; i++)
		salt[i] = (unsigned char)i;
	T_EQ(SF_CRYPT_PBKDF2_ITER, 600000);
	T_EQ(sf_crypt_pbkdf2("correct horse battery staple", salt, sizeof salt, SF_CRYPT_PBKDF2_ITER, k,
			     NULL),
	     0);
	hex_of(hex, k, sizeof k);
	T_STREQ(hex, "1cf30a518878f44aecb75c0e0d0d69a02ac5f9181a53b5292092e10a3c0cbb41");
}

/* HMAC-SHA256 of the constant, from
 *   printf 'secfaas state key check v1' | openssl dgst -sha256 -mac HMAC \
 *       -macopt hexkey:000102...1f                                            */
T_TEST(kcv_known_answer)
{
	unsigned char k[SF_CRYPT_KEY_LEN];
	char kcv[65];
	for (int i = 0; i < 32; i++)
		k[i] = (unsigned char)i;
	sf_crypt_kcv(k, kcv);
	T_STREQ(kcv, "5c4c40c78700e3dd046efcb20921f7569b82a3de0a22dc13290ff01705189c2c");
}

/* McGrew & Viega GCM spec, test case 16 (AES-256, 60-byte P, 20-byte AAD),
 * packed as our envelope: "v1:" base64(IV | C | T). */
T_TEST(gcm_open_known_answer)
{
	static const char env[] = "v1:yv66vvrO263eyviIUi3B8JlWfQf0fzejKoRCfWQ6jNy/5cDJdZiivSVV0aqMsI5IWQ27"
				  "PaewixBWgog4xfYeY5O6egq8yfZidvxuzg9OF2jN34hTuy1VGw==";
	static const unsigned char key[32] = {
		0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c, 0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30, 0x83, 0x08,
		0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c, 0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30, 0x83, 0x08};
	static const unsigned char aad[20] = {0xfe, 0xed, 0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef, 0xfe, 0xed,
					      0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef, 0xab, 0xad, 0xda, 0xd2};
	unsigned char *pt = NULL;
	size_t n = 0;
	char hex[200];
	struct sf_err err = SF_ERR_INIT;
	T_EQ(sf_crypt_open(key, aad, sizeof aad, env, &pt, &n, &err), 0);
	T_EQ(n, 60);
	if (pt) {
		hex_of(hex, pt, n);
		T_STREQ(hex, "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
			     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
	}
	free(pt);
	/* the same bytes with one AAD bit flipped must not open */
	unsigned char aad2[20];
	memcpy(aad2, aad, sizeof aad2);
	aad2[19] ^= 1;
	T_EQ(sf_crypt_open(key, aad2, sizeof aad2, env, &pt, &n, &err), SF_ECRYPTO);
	T_OK(pt == NULL);
}

T_TEST(seal_open_roundtrip_and_failures)
{
	unsigned char key[32], other[32];
	memset(key, 7, sizeof key);
	memset(other, 8, sizeof other);
	struct sf_err err = SF_ERR_INIT;
	const char *secret = "\"hunter2-very-secret\"";
	char *e1 = NULL, *e2 = NULL;
	T_EQ(sf_crypt_seal(key, "a\0pw", 4, secret, strlen(secret), &e1, &err), 0);
	T_EQ(sf_crypt_seal(key, "a\0pw", 4, secret, strlen(secret), &e2, &err), 0);
	T_OK(e1 && !strncmp(e1, "v1:", 3));
	/* fresh nonce: same input, different envelope */
	T_OK(e1 && e2 && strcmp(e1, e2) != 0);
	T_OK(e1 && !strstr(e1, "hunter2"));

	unsigned char *pt = NULL;
	size_t n = 0;
	T_EQ(sf_crypt_open(key, "a\0pw", 4, e1, &pt, &n, &err), 0);
	T_STREQ((char *)pt, secret);
	T_EQ(n, strlen(secret));
	free(pt);
	pt = NULL;

	/* wrong key, wrong AAD (another address), tampering: all SF_ECRYPTO */
	T_EQ(sf_crypt_open(other, "a\0pw", 4, e1, &pt, &n, &err), SF_ECRYPTO);
	T_OK(pt == NULL);
	T_EQ(sf_crypt_open(key, "b\0pw", 4, e1, &pt, &n, &err), SF_ECRYPTO);
	T_CONTAINS(err.msg, "failed authentication");
	char *bad = xstrdup(e1);
	size_t L = strlen(bad);
	bad[L / 2] = bad[L / 2] == 'A' ? 'B' : 'A';
	T_EQ(sf_crypt_open(key, "a\0pw", 4, bad, &pt, &n, &err), SF_ECRYPTO);
	T_OK(pt == NULL);
	/* malformed envelopes */
	T_EQ(sf_crypt_open(key, "a\0pw", 4, "v2:AAAA", &pt, &n, &err), SF_ECRYPTO);
	T_EQ(sf_crypt_open(key, "a\0pw", 4, "v1:!!!!", &pt, &n, &err), SF_ECRYPTO);
	T_EQ(sf_crypt_open(key, "a\0pw", 4, "v1:AAAA", &pt, &n, &err), SF_ECRYPTO);
	T_CONTAINS(err.msg, "malformed");
	free(bad);
	free(e1);
	free(e2);

	/* empty plaintext still authenticates */
	char *e3 = NULL;
	T_EQ(sf_crypt_seal(key, "x", 1, "", 0, &e3, &err), 0);
	T_EQ(sf_crypt_open(key, "x", 1, e3, &pt, &n, &err), 0);
	T_EQ(n, 0);
	free(pt);
	free(e3);
}

T_TEST(key_file_parsing)
{
	unsigned char k[32];
	char hex[65];
	struct sf_err err = SF_ERR_INIT;
	const char *h = "000102030405060708090A0B0C0D0E0F101112131415161718191a1b1c1d1e1f\n";
	T_EQ(sf_crypt_parse_key(h, strlen(h), "k", k, &err), 0);
	hex_of(hex, k, 32);
	T_STREQ(hex, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
	char raw[32];
	memset(raw, '\n', sizeof raw); /* raw keys are taken as-is, even whitespace */
	T_EQ(sf_crypt_parse_key(raw, 32, "k", k, &err), 0);
	T_EQ(k[0], '\n');
	T_EQ(sf_crypt_parse_key("abc", 3, "/x/key", k, &err), SF_EINVAL);
	T_CONTAINS(err.msg, "/x/key");
	char zz[65];
	memset(zz, 'z', 64);
	zz[64] = 0;
	T_EQ(sf_crypt_parse_key(zz, 64, "k", k, &err), SF_EINVAL);
}

T_TEST(base64_roundtrip)
{
	for (size_t n = 0; n < 8; n++) {
		unsigned char in[8] = {0, 1, 2, 0xfe, 0xff, 0x80, 0x7f, 9};
		char *e = sf_b64_encode(in, n);
		unsigned char *d = NULL;
		size_t m = 99;
		T_EQ(sf_b64_decode(e, &d, &m), 0);
		T_EQ(m, n);
		T_OK(d && memcmp(d, in, n) == 0);
		free(d);
		free(e);
	}
	unsigned char *d = NULL;
	size_t m;
	T_EQ(sf_b64_decode("abc", &d, &m), -1);
	T_EQ(sf_b64_decode("ab$=", &d, &m), -1);
}

T_MAIN()

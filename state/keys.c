/*
 * keys.c - where the state's secret key comes from, and the per-attribute
 * sealing of sensitive values.
 *
 * The key is found lazily, on the first secret read or write: a plan over
 * a state without secrets never pays for PBKDF2 (600,000 rounds of SHA-512
 * take a good fraction of a second).  Sources, first that applies:
 *   - a key provider (AWS KMS envelope encryption, opts.key_provider):
 *     for a state whose secrets were sealed that way (meta key_source
 *     "kms") the stored data key is unwrapped through it; with no secret
 *     yet, a fresh data key from it is stored wrapped (kms_wrapped_key) -
 *     configuring KMS is explicit, so it wins over a passphrase;
 *   - opts.passphrase, opts.key_file, SECFAAS_STATE_PASSPHRASE,
 *     SECFAAS_STATE_KEY_FILE;
 *   - files only: "<state>.key" (created 0600 with a random key the first
 *     time a secret is written).  A shared database has no such place: a
 *     key on one runner's disk would lock every other runner out.
 * The meta row `key_check` (an HMAC of a constant under the key) is written
 * with the first secret, so a wrong key fails with one clear message before
 * any value is touched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "log.h"
#include "state/internal.h"
#include "util.h"

#define WRONG_KEY_MSG \
	"cannot decrypt state secrets: wrong passphrase or key file (SECFAAS_STATE_PASSPHRASE)"

static int meta_text(struct sf_state *st, const char *key, char **out, struct sf_err *err)
{
	struct st_arg a[1] = {st_text(key)};
	int rc = st_qtext(st, Q_META_GET, a, 1, out, err);
	if (rc < 0)
		sf_err_prefix(err, "reading the key check value: ");
	return rc;
}

static int meta_put(struct sf_state *st, const char *key, const char *value, struct sf_err *err)
{
	struct st_arg a[2] = {st_text(key), st_text(value)};
	int rc = st_qexec(st, Q_META_PUT, a, 2, NULL, err);
	if (rc < 0)
		sf_err_prefix(err, "storing the key check value: ");
	return rc;
}

/* Create the default key file with a fresh random key (64 hex digits). */
/* The key opens every secret of the state: a key file others may read is
 * said once a process (it still works: a mounted Kubernetes Secret, say,
 * is 0644 unless its defaultMode says otherwise). */
static void warn_if_readable(const char *path)
{
	static atomic_int warned;
	struct stat sb;
	if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 077) && !atomic_exchange(&warned, 1))
		sf_warn("state key file %s can be read by other users (mode %04o); chmod 600 %s", path,
			(unsigned)(sb.st_mode & 07777), path);
}

static int create_key_file(const char *path, struct sf_err *err)
{
	unsigned char raw[SF_CRYPT_KEY_LEN];
	char hex[2 * SF_CRYPT_KEY_LEN + 2];
	int rc = 0;
	if (sf_random(raw, sizeof raw) < 0)
		return sf_fail(err, SF_ECRYPTO, "cannot create key file %s: no random bytes", path);
	sf_hex(hex, raw, sizeof raw);
	OPENSSL_cleanse(raw, sizeof raw);
	hex[2 * SF_CRYPT_KEY_LEN] = '\n';
	hex[2 * SF_CRYPT_KEY_LEN + 1] = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST) /* another process made it first: use theirs */
			goto done;
		rc = sf_fail(err, SF_EIO, "cannot create state key file %s: %s", path, strerror(errno));
		goto done;
	}
	size_t n = strlen(hex);
	if (write(fd, hex, n) != (ssize_t)n || fsync(fd) < 0) {
		rc = sf_fail(err, SF_EIO, "cannot write state key file %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		goto done;
	}
	close(fd);
done:
	OPENSSL_cleanse(hex, sizeof hex);
	return rc;
}

/* Unwrap the stored data key (KMS), or make and store a new one. */
static int provider_key(struct sf_state *st, int for_write, unsigned char key[SF_CRYPT_KEY_LEN],
			struct sf_err *err)
{
	char *wrapped = NULL, *kid = NULL;
	int rc = meta_text(st, "kms_wrapped_key", &wrapped, err);
	if (rc < 0)
		return rc;
	if (wrapped) {
		meta_text(st, "kms_key_id", &kid, NULL);
		if (!st->kp) {
			rc = sf_fail(err, SF_ECRYPTO, "cannot decrypt state secrets: they are sealed under "
						      "AWS KMS key %s and no KMS key is configured",
				     kid ? kid : "?");
			sf_err_hint(err, "set backend.kmsKeyId (or SECFAAS_STATE_KMS_KEY_ID) and AWS "
					 "credentials allowed to call kms:Decrypt on that key");
		} else if ((rc = st->kp->decrypt(st->kp->ctx, wrapped, key, err)) < 0) {
			sf_err_prefix(err, "cannot decrypt the state's data key with AWS KMS key %s: ",
				      kid ? kid : st->kp->key_id);
		}
		goto done;
	}
	if (!for_write) {
		rc = sf_fail(err, SF_ECRYPTO, "cannot decrypt state secrets in %s: no data key is stored",
			     st->path);
		goto done;
	}
	if ((rc = st->kp->generate(st->kp->ctx, key, &wrapped, err)) < 0) {
		sf_err_prefix(err, "cannot create a data key for state secrets with AWS KMS key %s: ",
			      st->kp->key_id);
		goto done;
	}
	if ((rc = meta_put(st, "kms_wrapped_key", wrapped, err)) < 0 ||
	    (rc = meta_put(st, "kms_key_id", st->kp->key_id ? st->kp->key_id : "", err)) < 0)
		goto done;
done:
	free(wrapped);
	free(kid);
	return rc;
}

static int load_key(struct sf_state *st, int for_write, const char *src_db,
		    unsigned char key[SF_CRYPT_KEY_LEN], const char **source, struct sf_err *err)
{
	int rc = 0;
	char *salt_hex = NULL, *data = NULL, *deflt = NULL;
	unsigned char *salt = NULL;
	size_t n = 0;
	/* Sealed under KMS, or nothing sealed yet and a provider given. */
	if ((src_db && !strcmp(src_db, "kms")) || (!src_db && st->kp)) {
		*source = "kms";
		return provider_key(st, for_write, key, err);
	}
	int use_pass = st->passphrase != NULL;
	if (st->key_from_state && src_db)
		use_pass = !strcmp(src_db, "passphrase");
	if (use_pass && !st->passphrase) {
		rc = sf_fail(err, SF_ECRYPTO, "cannot decrypt state secrets: %s was sealed with a passphrase",
			     st->path);
		sf_err_hint(err, "set SECFAAS_STATE_PASSPHRASE to it");
		goto done;
	}
	if (use_pass) {
		*source = "passphrase";
		if ((rc = meta_text(st, "kdf_salt", &salt_hex, err)) < 0)
			goto done;
		size_t sl = salt_hex ? strlen(salt_hex) / 2 : 0;
		if (!sl) {
			rc = sf_fail(err, SF_ECORRUPT, "state %s has no key derivation salt", st->path);
			goto done;
		}
		salt = xmalloc(sl);
		for (size_t i = 0; i < sl; i++) {
			unsigned v = 0;
			if (sscanf(salt_hex + 2 * i, "%2x", &v) != 1) {
				rc = sf_fail(err, SF_ECORRUPT, "state %s has a malformed salt", st->path);
				goto done;
			}
			salt[i] = (unsigned char)v;
		}
		rc = sf_crypt_pbkdf2(st->passphrase, salt, sl, SF_CRYPT_PBKDF2_ITER, key, err);
		goto done;
	}
	*source = "key_file";
	const char *kf = st->key_file;
	if (!kf && st->workspace) {
		rc = sf_fail(err, SF_ECRYPTO, "no key for the secrets in state %s", st->path);
		sf_err_hint(err, "a shared state needs a key every runner has: set SECFAAS_STATE_PASSPHRASE, "
				 "or backend.kmsKeyId for AWS KMS envelope encryption");
		goto done;
	}
	if (!kf)
		kf = deflt = xasprintf("%s.key", st->path);
	rc = sf_read_file(&data, &n, kf, 4096, err);
	if (rc == SF_ENOTFOUND && deflt && for_write) {
		if ((rc = create_key_file(kf, err)) < 0)
			goto done;
		rc = sf_read_file(&data, &n, kf, 4096, err);
	}
	if (rc == SF_ENOTFOUND) {
		rc = sf_fail(err, SF_ECRYPTO, "cannot decrypt state secrets: key file %s is missing", kf);
		sf_err_hint(err, "set SECFAAS_STATE_PASSPHRASE or SECFAAS_STATE_KEY_FILE to the key "
				 "the state was written with");
		goto done;
	}
	if (rc < 0)
		goto done;
	warn_if_readable(kf);
	rc = sf_crypt_parse_key(data, n, kf, key, err);
done:
	if (data) {
		OPENSSL_cleanse(data, n);
		free(data);
	}
	free(salt);
	free(salt_hex);
	free(deflt);
	return rc;
}

int st_key(struct sf_state *st, int for_write, struct sf_err *err)
{
	int rc = 0;
	char *kcv_db = NULL, *src_db = NULL;
	char kcv[65];
	const char *source = NULL;
	unsigned char key[SF_CRYPT_KEY_LEN];

	if (st->have_key && !for_write)
		return 0;
	if ((rc = meta_text(st, "key_check", &kcv_db, err)) < 0)
		goto done;
	if (kcv_db && (rc = meta_text(st, "key_source", &src_db, err)) < 0)
		goto done;
	if (st->have_key) {
		/* only here to make sure the check value is stored */
		memcpy(key, st->key, sizeof key);
		source = src_db ? src_db : st->kp ? "kms" : st->passphrase ? "passphrase" : "key_file";
	} else if ((rc = load_key(st, for_write, src_db, key, &source, err)) < 0) {
		goto done;
	}
	sf_crypt_kcv(key, kcv);
	if (kcv_db && strcmp(kcv_db, kcv)) {
		rc = sf_fail(err, SF_ECRYPTO, WRONG_KEY_MSG);
		if (src_db && !strcmp(src_db, "passphrase"))
			sf_err_hint(err, "the secrets in %s were encrypted with a passphrase; set "
					 "SECFAAS_STATE_PASSPHRASE to it", st->path);
		else if (src_db && !strcmp(src_db, "kms"))
			sf_err_hint(err, "the secrets in %s were encrypted with a data key from AWS KMS; "
					 "the stored data key no longer matches", st->path);
		else if (st->workspace)
			sf_err_hint(err, "the secrets in %s were encrypted with a key file; set "
					 "SECFAAS_STATE_KEY_FILE to it", st->path);
		else
			sf_err_hint(err, "the secrets in %s were encrypted with a key file; set "
					 "SECFAAS_STATE_KEY_FILE to it (default %s.key)", st->path, st->path);
		goto done;
	}
	if (!kcv_db && for_write) {
		if ((rc = meta_put(st, "key_check", kcv, err)) < 0 ||
		    (rc = meta_put(st, "key_source", source, err)) < 0)
			goto done;
	}
	memcpy(st->key, key, sizeof key);
	st->have_key = 1;
done:
	OPENSSL_cleanse(key, sizeof key);
	free(kcv_db);
	free(src_db);
	return rc;
}

/* address "\0" attribute: AAD that binds a ciphertext to its place. */
static char *make_aad(const char *address, const char *name, size_t *len)
{
	size_t a = strlen(address), b = strlen(name);
	char *aad = xmalloc(a + 1 + b + 1);
	memcpy(aad, address, a + 1);
	memcpy(aad + a + 1, name, b + 1);
	*len = a + 1 + b;
	return aad;
}

int st_seal_attrs(struct sf_state *st, const char *address, json_t *attrs, const json_t *sensitive,
		  struct sf_err *err)
{
	size_t i;
	json_t *name;
	int have = 0;
	json_array_foreach(sensitive, i, name) {
		const char *nm = json_string_value(name);
		if (!nm || !json_object_get(attrs, nm))
			continue;
		if (!have) {
			int rc = st_key(st, 1, err);
			if (rc < 0)
				return rc;
			have = 1;
		}
		char *pt = json_dumps(json_object_get(attrs, nm), JSON_ENCODE_ANY | JSON_COMPACT);
		if (!pt)
			return sf_fail(err, SF_EINVAL, "attribute %s of %s cannot be serialised", nm, address);
		size_t aad_len, pt_len = strlen(pt);
		char *aad = make_aad(address, nm, &aad_len), *env = NULL;
		int rc = sf_crypt_seal(st->key, aad, aad_len, pt, pt_len, &env, err);
		OPENSSL_cleanse(pt, pt_len);
		free(pt);
		free(aad);
		if (rc < 0)
			return rc;
		json_object_set_new(attrs, nm, json_pack("{s:s}", "$enc", env));
		free(env);
	}
	return 0;
}

int st_open_attrs(struct sf_state *st, const char *address, json_t *attrs, const json_t *sensitive,
		  struct sf_err *err)
{
	size_t i;
	json_t *name;
	json_array_foreach(sensitive, i, name) {
		const char *nm = json_string_value(name);
		json_t *v = nm ? json_object_get(attrs, nm) : NULL;
		if (!v)
			continue;
		const char *env = json_string_value(json_object_get(v, "$enc"));
		if (!json_is_object(v) || json_object_size(v) != 1 || !env) {
			sf_fail(err, SF_ECRYPTO, "sensitive attribute %s of %s is stored unencrypted in %s",
				nm, address, st->path);
			return sf_err_where(err, "%s", address);
		}
		int rc = st_key(st, 0, err);
		if (rc < 0)
			return sf_err_where(err, "%s", address);
		size_t aad_len, n = 0;
		char *aad = make_aad(address, nm, &aad_len);
		unsigned char *pt = NULL;
		rc = sf_crypt_open(st->key, aad, aad_len, env, &pt, &n, err);
		free(aad);
		if (rc < 0) {
			sf_err_prefix(err, "cannot decrypt attribute %s of %s: ", nm, address);
			return sf_err_where(err, "%s", address);
		}
		json_error_t je;
		json_t *val = json_loadb((const char *)pt, n, JSON_DECODE_ANY, &je);
		OPENSSL_cleanse(pt, n);
		free(pt);
		if (!val) {
			sf_fail(err, SF_ECORRUPT, "attribute %s of %s decrypted to invalid JSON", nm, address);
			return sf_err_where(err, "%s", address);
		}
		json_object_set_new(attrs, nm, val);
	}
	return 0;
}

int sf_state_seal_attrs(struct sf_state *st, const char *address, json_t *attrs, const json_t *names,
			struct sf_err *err)
{
	return st_seal_attrs(st, address, attrs, names, err);
}

int sf_state_open_attrs(struct sf_state *st, const char *address, json_t *attrs, const json_t *names,
			struct sf_err *err)
{
	return st_open_attrs(st, address, attrs, names, err);
}

/*
 * test_object.c - an object with a provider-assigned id, stored as a JSON
 * file in a directory, with injectable failures, delays and gates.
 *
 * Why: the engine's hard promises (no duplicates after kill -9, taint on
 * failed creates, independent branches continue, bounded parallelism) only
 * mean something against a resource whose create can duplicate, like a
 * cloud object with a server-side id.  Each create makes <dir>/<id>.json
 * with a fresh random id unless an object carrying the same idempotency
 * token exists (the adopt path every real type implements with
 * ClientToken/clientRequestToken or tags).  Tests count the files.
 *
 * Synchronisation without sleeps: `gate` names a FIFO; create opens it for
 * writing, which blocks until the test opens it for reading, so a test can
 * kill -9 the process at exactly that point (`gate_at`: before the object
 * exists, or after it exists but before create returns).  `meet` names a
 * FIFO that read opens (for writing, or for reading with `meet_as: read`)
 * and closes: an open of one side blocks until the other side is opened, so
 * two objects meeting there are read only if both reads run at once (what
 * workspaces planned side by side do), with no timing involved.
 * `until_inflight` N holds a create until N creates of its directory have
 * been in flight together (or a minute passed, so a bound that is never
 * reached fails the test's count instead of hanging it): on a busy machine
 * a fixed delay may end before the last sibling starts.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "resources/types.h"
#include "log.h"
#include "util.h"

static const struct sf_attr_def attrs[] = {
	{"dir", SF_AT_STRING, SF_ATTR_REQUIRED | SF_ATTR_FORCE_NEW, "directory holding the objects"},
	{"content", SF_AT_STRING, SF_ATTR_OPTIONAL, "payload, updatable in place"},
	{"data", SF_AT_ANY, SF_ATTR_OPTIONAL, "structured payload (maps, lists), updatable in place"},
	{"kind", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_FORCE_NEW, "changing it replaces the object"},
	{"secret", SF_AT_STRING, SF_ATTR_OPTIONAL | SF_ATTR_SENSITIVE, "a sensitive value (only its hash is stored remotely)"},
	{"fail_on", SF_AT_STRING, SF_ATTR_OPTIONAL, "inject a failure: create, create_after, update, delete, read"},
	{"delay_ms", SF_AT_INT, SF_ATTR_OPTIONAL, "sleep this long in create/update/delete (cancellable)"},
	{"gate", SF_AT_STRING, SF_ATTR_OPTIONAL, "FIFO opened for writing in create (blocks until read)"},
	{"gate_at", SF_AT_STRING, SF_ATTR_OPTIONAL, "before (default) or after the object exists"},
	{"gate_hold", SF_AT_BOOL, SF_ATTR_OPTIONAL, "after signalling the gate, block until killed or interrupted"},
	{"meet", SF_AT_STRING, SF_ATTR_OPTIONAL, "FIFO opened in read (blocks until its other side is opened)"},
	{"meet_as", SF_AT_STRING, SF_ATTR_OPTIONAL, "write (default) or read: the side of `meet` read opens"},
	{"until_inflight", SF_AT_INT, SF_ATTR_OPTIONAL, "hold create until this many were in flight together"},
	{"created_at", SF_AT_STRING, SF_ATTR_COMPUTED, "creation time"},
	{NULL, 0, 0, NULL},
};

static const char *sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int fail_on(const json_t *want, const char *what)
{
	const char *f = sget(want, "fail_on");
	return f && !strcmp(f, what);
}

/* Count operations in flight per directory (<dir>/.inflight holds "cur max"),
 * so tests can check the engine's parallelism bound without timing. */
static void inflight(const char *dir, int delta)
{
	char *lk = xasprintf("%s/.inflight.lock", dir), *cnt = xasprintf("%s/.inflight", dir);
	int fd = open(lk, O_CREAT | O_RDWR | O_CLOEXEC, 0644);
	if (fd >= 0 && flock(fd, LOCK_EX) == 0) {
		long cur = 0, max = 0;
		FILE *f = fopen(cnt, "r");
		if (f) {
			if (fscanf(f, "%ld %ld", &cur, &max) != 2)
				cur = max = 0;
			fclose(f);
		}
		cur += delta;
		if (cur > max)
			max = cur;
		f = fopen(cnt, "w");
		if (f) {
			fprintf(f, "%ld %ld\n", cur, max);
			fclose(f);
		}
		flock(fd, LOCK_UN);
	}
	if (fd >= 0)
		close(fd);
	free(lk);
	free(cnt);
}

/* The most operations ever in flight together in dir (0: none yet). */
static long inflight_max(const char *dir)
{
	char *cnt = xasprintf("%s/.inflight", dir);
	long cur = 0, max = 0;
	FILE *f = fopen(cnt, "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &cur, &max) != 2)
			max = 0;
		fclose(f);
	}
	free(cnt);
	return max;
}

/* Hold until `until_inflight` creates were in flight at once, checking
 * every 10 ms; cancellable; gives up after 60 s. */
static int until_inflight(struct sf_rctx *c, const json_t *want)
{
	long n = (long)json_integer_value(json_object_get(want, "until_inflight"));
	double end = sf_mono() + 60.0;
	while (n > 0 && inflight_max(sget(want, "dir")) < n && sf_mono() < end) {
		if (c->cancel && *c->cancel)
			return sf_fail(c->err, SF_EINTR, "interrupted while waiting");
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

static int delay(struct sf_rctx *c, const json_t *want)
{
	long long ms = json_integer_value(json_object_get(want, "delay_ms"));
	double end = sf_mono() + (double)ms / 1000.0;
	while (ms > 0 && sf_mono() < end) {
		if (c->cancel && *c->cancel)
			return sf_fail(c->err, SF_EINTR, "interrupted while waiting");
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
		if (c->progress)
			c->progress(c, "status=PENDING");
	}
	return 0;
}

static void gate(const json_t *want, const char *at)
{
	const char *g = sget(want, "gate");
	const char *when = sget(want, "gate_at") ? sget(want, "gate_at") : "before";
	if (!g || strcmp(when, at))
		return;
	int fd = open(g, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t w = write(fd, "x", 1);
		(void)w;
		close(fd);
	}
	/* Hold: opening the FIFO for reading blocks until a writer appears,
	 * which the test never provides; a signal (EINTR) or kill ends it. */
	if (json_is_true(json_object_get(want, "gate_hold"))) {
		fd = open(g, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			close(fd);
	}
}

static char *obj_path(const char *dir, const char *id)
{
	return xasprintf("%s/%s.json", dir, id);
}

/* Find an object made with this token (the adopt path). Owned id or NULL. */
static char *find_by_token(const char *dir, const char *token)
{
	DIR *d = opendir(dir);
	if (!d || !token)
		return d ? (closedir(d), NULL) : NULL;
	char *found = NULL;
	struct dirent *de;
	while (!found && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l < 6 || strcmp(de->d_name + l - 5, ".json"))
			continue;
		char *p = xasprintf("%s/%s", dir, de->d_name);
		json_t *j = json_load_file(p, 0, NULL);
		if (j && sget(j, "token") && !strcmp(sget(j, "token"), token))
			found = xstrndup(de->d_name, l - 5);
		json_decref(j);
		free(p);
	}
	closedir(d);
	return found;
}

static json_t *attrs_of(const json_t *want, const char *id, const char *created)
{
	json_t *o = json_deep_copy(want);
	json_object_set_new(o, "id", json_string(id));
	json_object_set_new(o, "created_at", json_string(created));
	return o;
}

static int write_obj(struct sf_rctx *c, const char *dir, const char *id, const json_t *want, const char *created)
{
	const char *secret = sget(want, "secret");
	char hash[65] = "";
	if (secret)
		sf_sha256_hex(hash, secret, strlen(secret));
	json_t *j = json_pack("{s:s, s:s?, s:s?, s:s?, s:s, s:s}", "id", id, "content", sget(want, "content"), "kind",
			      sget(want, "kind"), "secret_sha256", secret ? hash : NULL, "token", c->token ? c->token : "",
			      "created_at", created);
	char *text = json_dumps(j, JSON_SORT_KEYS);
	char *p = obj_path(dir, id);
	int rc = sf_write_file_atomic(p, text, strlen(text), 0644, c->err);
	free(p);
	free(text);
	json_decref(j);
	return rc;
}

static int to_create_inner(struct sf_rctx *c, const json_t *want, json_t **out);

static int to_create(struct sf_rctx *c, const json_t *want, json_t **out)
{
	const char *dir = sget(want, "dir");
	if (fail_on(want, "create"))
		return sf_fail(c->err, SF_ERROR, "injected failure on create");
	inflight(dir, 1);
	int rc = to_create_inner(c, want, out);
	inflight(dir, -1);
	return rc;
}

static int to_create_inner(struct sf_rctx *c, const json_t *want, json_t **out)
{
	const char *dir = sget(want, "dir");
	gate(want, "before");
	char *id = find_by_token(dir, c->token);
	char created[32];
	sf_time_rfc3339(created, sizeof created, sf_now());
	if (id) {
		char *p = obj_path(dir, id);
		json_t *j = json_load_file(p, 0, NULL);
		if (j && sget(j, "created_at"))
			snprintf(created, sizeof created, "%s", sget(j, "created_at"));
		json_decref(j);
		free(p);
		sf_debug("%s: adopted %s by token", c->address, id);
	} else {
		unsigned char r[8];
		char hex[17];
		sf_random(r, sizeof r);
		sf_hex(hex, r, sizeof r);
		id = xasprintf("obj-%s", hex);
		if (write_obj(c, dir, id, want, created) < 0) {
			free(id);
			return c->err->code;
		}
	}
	if (c->record_id)
		c->record_id(c, id);
	gate(want, "after");
	int rc = until_inflight(c, want);
	if (!rc)
		rc = delay(c, want);
	if (!rc && fail_on(want, "create_after"))
		rc = sf_fail(c->err, SF_ERROR, "injected failure after the object was created");
	if (!rc)
		*out = attrs_of(want, id, created);
	free(id);
	return rc;
}

static int to_read(struct sf_rctx *c, const json_t *prior, json_t **out)
{
	const char *dir = sget(prior, "dir"), *id = sget(prior, "id");
	if (fail_on(prior, "read"))
		return sf_fail(c->err, SF_ERROR, "injected failure on read");
	if (!dir || !id)
		return sf_fail(c->err, SF_ENOTFOUND, "object has no id");
	const char *meet = sget(prior, "meet"), *as = sget(prior, "meet_as");
	if (meet) {
		int fd = open(meet, (as && !strcmp(as, "read") ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
		if (fd < 0)
			return sf_fail(c->err, SF_EIO, "cannot open %s: %s", meet, strerror(errno));
		close(fd);
	}
	char *p = obj_path(dir, id);
	json_t *j = json_load_file(p, 0, NULL);
	free(p);
	if (!j)
		return sf_fail(c->err, SF_ENOTFOUND, "object %s not found", id);
	json_t *o = json_deep_copy(prior);
	if (sget(j, "content"))
		json_object_set(o, "content", json_object_get(j, "content"));
	else
		json_object_del(o, "content");
	json_decref(j);
	*out = o;
	return 0;
}

static int to_update(struct sf_rctx *c, const json_t *prior, const json_t *want, json_t **out)
{
	const char *dir = sget(prior, "dir"), *id = sget(prior, "id");
	if (fail_on(want, "update"))
		return sf_fail(c->err, SF_ERROR, "injected failure on update");
	int rc = delay(c, want);
	if (rc)
		return rc;
	const char *created = sget(prior, "created_at") ? sget(prior, "created_at") : "";
	if (write_obj(c, dir, id, want, created) < 0)
		return c->err->code;
	*out = attrs_of(want, id, created);
	return 0;
}

static int to_destroy(struct sf_rctx *c, const json_t *prior)
{
	const char *dir = sget(prior, "dir"), *id = sget(prior, "id");
	if (fail_on(prior, "delete"))
		return sf_fail(c->err, SF_ERROR, "injected failure on delete");
	int rc = delay(c, prior);
	if (rc)
		return rc;
	if (!dir)
		return 0;
	char *found = NULL;
	if (!id)
		id = found = find_by_token(dir, c->token);
	if (id) {
		char *p = obj_path(dir, id);
		if (unlink(p) < 0 && errno != ENOENT)
			rc = sf_fail(c->err, SF_EIO, "cannot delete %s: %s", p, strerror(errno));
		free(p);
	}
	free(found);
	return rc;
}

static const struct sf_own own = {
	.kind = SF_OWN_ID,
	.noun = "test object",
	.proof = "the random id recorded at create; without one, the object carrying the operation token",
};

const struct sf_rtype sf_rt_test_object = {
	.own = &own,
	.name = "test_object",
	.schema_version = 1,
	.attrs = attrs,
	.create = to_create,
	.read = to_read,
	.update = to_update,
	.destroy = to_destroy,
};

/* The same object with create-before-destroy replacements (like EKS node
 * groups and launch templates), so the engine's handling of the old,
 * "deposed" object can be tested with kill -9 between the two steps. */
const struct sf_rtype sf_rt_test_object_cbd = {
	.own = &own,
	.name = "test_object_cbd",
	.schema_version = 1,
	.attrs = attrs,
	.create_before_destroy = 1,
	.create = to_create,
	.read = to_read,
	.update = to_update,
	.destroy = to_destroy,
};

/* Replacements make a new object and keep the old one (like gVisor images
 * kept for reuse), so plan and apply wording for kept objects is tested. */
const struct sf_rtype sf_rt_test_object_keep = {
	.own = &own,
	.name = "test_object_keep",
	.schema_version = 1,
	.attrs = attrs,
	.keep_replaced = 1,
	.create = to_create,
	.read = to_read,
	.update = to_update,
	.destroy = to_destroy,
};

/*
 * test_state_fs.c - the state file when the filesystem says no: read-only
 * directory, and a full disk.  Both need a small filesystem of their own:
 * as root the test mounts a tmpfs (size-limited, remountable read-only) in
 * its temp dir and unmounts it on every path, including exit; without root
 * the read-only case falls back to chmod and the disk-full case is skipped
 * with a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state/state.h"
#include "t.h"
#include "tests/state/helpers.h"
#include "util.h"

static char mounted[4][512];

static void unmount_all(void)
{
	for (size_t i = 0; i < SF_ARRAY_LEN(mounted); i++)
		if (mounted[i][0]) {
			if (umount2(mounted[i], MNT_DETACH) < 0)
				fprintf(stderr, "warning: cannot unmount %s: %s\n", mounted[i],
					strerror(errno));
			mounted[i][0] = 0;
		}
}

/* Mount a tmpfs of `size` at <tmp>/name. Owned path, or NULL if we may not. */
static char *mount_tmpfs(const char *name, const char *size)
{
	static int registered;
	char *dir = ts_path(name);
	mkdir(dir, 0700);
	if (geteuid() != 0)
		goto no;
	char *opts = xasprintf("size=%s,mode=0700", size);
	int rc = mount("tmpfs", dir, "tmpfs", 0, opts);
	free(opts);
	if (rc < 0)
		goto no;
	for (size_t i = 0; i < SF_ARRAY_LEN(mounted); i++)
		if (!mounted[i][0]) {
			snprintf(mounted[i], sizeof mounted[i], "%s", dir);
			break;
		}
	if (!registered) {
		atexit(unmount_all); /* runs before t.c's temp-dir removal */
		registered = 1;
	}
	return dir;
no:
	fprintf(stderr, "note: cannot mount a tmpfs at %s (%s); ", dir,
		geteuid() ? "not root" : strerror(errno));
	free(dir);
	return NULL;
}

static void unmount_one(const char *dir)
{
	for (size_t i = 0; i < SF_ARRAY_LEN(mounted); i++)
		if (mounted[i][0] && !strcmp(mounted[i], dir)) {
			if (umount2(dir, MNT_DETACH) < 0)
				T_FAILF("cannot unmount %s: %s", dir, strerror(errno));
			mounted[i][0] = 0;
		}
}

/* Make dir read-only for us: remount (root) or chmod (others; root ignores
 * modes, so that only works unprivileged). 0 ok. */
static int make_readonly(const char *dir, int is_mount, int ro)
{
	if (is_mount)
		return mount("tmpfs", dir, "tmpfs", MS_REMOUNT | (ro ? MS_RDONLY : 0), "size=1m");
	return chmod(dir, ro ? 0500 : 0700);
}

T_TEST(readonly_directory)
{
	ts_clean_env();
	char *dir = mount_tmpfs("rofs", "1m");
	int is_mount = dir != NULL;
	if (!dir) {
		if (geteuid() == 0) {
			fprintf(stderr, "skipping readonly_directory: root without mount rights\n");
			return;
		}
		fprintf(stderr, "using chmod instead\n");
		dir = ts_path("rofs");
	}
	char *p = xasprintf("%s/s.db", dir);
	char *p2 = xasprintf("%s/new/s.db", dir);
	char *p3 = xasprintf("%s/new.db", dir);
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = ts_open(p, NULL);
	if (!st)
		goto done;
	T_EQ(ts_put(st, "local_file.a", "{\"v\":1}", NULL), 0);
	sf_state_close(st);
	st = NULL;
	size_t n1 = 0, n2 = 1;
	char *before = ts_slurp(p, &n1);

	T_EQ(make_readonly(dir, is_mount, 1), 0);
	struct sf_state_opts o = {0};
	o.create = 1;
	/* a new state in a read-only directory */
	T_EQ(sf_state_open(&st, p3, &o, &err), SF_EIO);
	T_CONTAINS(err.msg, p3);
	T_EQ(sf_state_open(&st, p2, &o, &err), SF_EIO);
	/* an existing state: refused at open, or at the first write */
	int rc = sf_state_open(&st, p, &o, &err);
	if (rc == 0) {
		struct sf_err e2 = SF_ERR_INIT;
		struct sf_resource r = {0};
		r.address = "local_file.b";
		r.type = "local_file";
		T_EQ(sf_state_put(st, &r, &e2), SF_EIO);
		err = e2;
		sf_state_close(st);
		st = NULL;
	} else {
		T_EQ(rc, SF_EIO);
	}
	T_CONTAINS(err.msg, p);
	T_OK(err.hint[0] != 0);
	if (getenv("T_VERBOSE")) {
		char buf[1200];
		printf("read-only: %s\n", sf_err_format(&err, buf, sizeof buf));
	}
	char *after = ts_slurp(p, &n2);
	T_OK(before && after && n1 == n2 && memcmp(before, after, n1) == 0);
	free(after);
	free(before);

	/* writable again: everything still there */
	T_EQ(make_readonly(dir, is_mount, 0), 0);
	st = ts_open(p, NULL);
	if (st) {
		struct sf_resource *g = NULL;
		T_EQ(sf_state_get(st, "local_file.a", &g, &err), 0);
		sf_resource_free(g);
		T_EQ(sf_state_serial(st), 1);
		sf_state_close(st);
	}
done:
	if (is_mount)
		unmount_one(dir);
	free(p);
	free(p2);
	free(p3);
	free(dir);
}

/* Fill the filesystem holding dir; returns the filler's path (owned). */
static char *fill_disk(const char *dir)
{
	char *f = xasprintf("%s/filler", dir);
	int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	char buf[4096];
	memset(buf, 'F', sizeof buf);
	while (fd >= 0 && write(fd, buf, sizeof buf) > 0)
		;
	/* tmpfs may still take a partial block */
	while (fd >= 0 && write(fd, buf, 1) > 0)
		;
	if (fd >= 0)
		close(fd);
	return f;
}

T_TEST(disk_full)
{
	ts_clean_env();
	char *dir = mount_tmpfs("fullfs", "400k");
	if (!dir) {
		fprintf(stderr, "skipping disk_full (needs root to mount a small tmpfs)\n");
		return;
	}
	char *p = xasprintf("%s/s.db", dir);
	char *filler = NULL;
	struct sf_err err = SF_ERR_INIT;
	struct sf_state *st = ts_open(p, NULL);
	if (!st)
		goto done;
	T_EQ(ts_put(st, "local_file.a", "{\"v\":\"before the disk filled\"}", NULL), 0);
	T_EQ(sf_state_serial(st), 1);
	filler = fill_disk(dir);

	/* ~300 KB of attributes cannot fit */
	size_t big = 300 * 1024;
	char *blob = xmalloc(big + 1);
	memset(blob, 'x', big);
	blob[big] = 0;
	struct sf_resource r = {0};
	r.address = "local_file.big";
	r.type = "local_file";
	r.attrs = json_pack("{s:s}", "content", blob);
	T_EQ(sf_state_put(st, &r, &err), SF_EIO);
	T_CONTAINS(err.msg, "disk full");
	T_CONTAINS(err.msg, p);
	T_CONTAINS(err.hint, "free disk space");
	if (getenv("T_VERBOSE")) {
		char buf[1200];
		printf("disk full: %s\n", sf_err_format(&err, buf, sizeof buf));
	}
	T_EQ(sf_state_serial(st), 1);

	/* the same inside an explicit transaction: nothing is committed */
	struct sf_err e2 = SF_ERR_INIT;
	if (sf_state_begin(st, &e2) == 0) {
		T_EQ(ts_put(st, "local_file.small", "{}", NULL), 0);
		/* the rows may sit in SQLite's page cache until commit */
		int prc = sf_state_put(st, &r, &e2);
		T_OK(prc == 0 || prc == SF_EIO);
		if (prc == 0) {
			T_EQ(sf_state_commit(st, &e2), SF_EIO);
			T_CONTAINS(e2.msg, "disk full");
		} else {
			sf_state_rollback(st);
		}
	}
	T_EQ(sf_state_serial(st), 1);
	struct sf_resource *g = NULL;
	T_EQ(sf_state_get(st, "local_file.small", &g, &err), SF_ENOTFOUND);
	T_EQ(sf_state_get(st, "local_file.a", &g, &err), 0);
	sf_resource_free(g);
	sf_state_close(st);
	st = NULL;

	/* space back: the old content is intact and writes work again */
	unlink(filler);
	st = ts_open(p, NULL);
	if (st) {
		T_EQ(sf_state_serial(st), 1);
		T_EQ(sf_state_get(st, "local_file.a", &g, &err), 0);
		T_STREQ(g ? json_string_value(json_object_get(g->attrs, "v")) : NULL,
			"before the disk filled");
		sf_resource_free(g);
		T_EQ(sf_state_get(st, "local_file.big", &g, &err), SF_ENOTFOUND);
		T_EQ(ts_put(st, "local_file.after", "{}", NULL), 0);
		T_EQ(sf_state_serial(st), 2);
		sf_state_close(st);
	}
	char *ok = ts_query(p, "PRAGMA integrity_check");
	T_STREQ(ok, "ok");
	free(ok);
	json_decref(r.attrs);
	free(blob);
done:
	unmount_one(dir);
	free(filler);
	free(p);
	free(dir);
}

T_MAIN()

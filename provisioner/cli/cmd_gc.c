/*
 * cmd_gc.c - `secfaas gc`: destroy ephemeral workspaces whose TTL passed,
 * then sweep AWS for secfaas-tagged objects no state knows.
 *
 * Phase 1 (state): every workspace of the backend - each state file of the
 * state directory (default .secfaas/), or every workspace of a shared
 * PostgreSQL state, the whole team's - that recorded an expiry
 * (metadata.ttl or `apply --ttl`) and is past it is destroyed from its
 * state alone, under its own lock, exactly like `secfaas destroy --state
 * FILE --auto-approve`.
 *
 * Phase 2 (sweep, unless --no-sweep): resources/sweep.h lists every AWS
 * object tagged secfaas:workspace in the region (the sweep hooks of the
 * providers' types, provider.h) and deletes, in dependency order, those
 * whose secfaas:expires-at passed and those whose state is here but never
 * recorded them (a run killed before its intent was written).  An object
 * whose lineage no state here knows is only listed: the account is shared,
 * and a workspace whose state lives elsewhere (another directory, another
 * team, a CI runner) is alive as far as gc can tell.  `--dead-workspace NAME`
 * is the user's word that NAME's unknown states are dead; its objects are
 * then deleted too.  "now" is the AWS service's clock (the Date of a
 * signed STS call), --now overrides.  Without credentials the sweep is
 * skipped with the reason.
 *
 * Without --auto-approve (or with --dry-run) gc only lists.  The exit
 * status is 1 if anything expired or orphaned is left afterwards (listed
 * only, or could not be removed), so schedulers notice leaks; objects of
 * unknown workspaces do not count (they are not known to be leaks).
 */
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "provisioner/cli/commands.h"
#include "provisioner/cli/plan_cmd.h"
#include "provisioner/cli/run.h"
#include "provisioner/kinds/ttl.h"
#include "resources/provider.h"
#include "resources/providers.h"
#include "resources/sweep.h"
#include "resources/types.h"
#include "util.h"

/* Does this state hold objects of a provider the sweep covers (AWS)? */
static int has_aws(struct sf_state *st)
{
	struct sf_resource **v = NULL;
	size_t n = 0;
	struct sf_err err = SF_ERR_INIT;
	int aws = 0;
	if (sf_state_list(st, &v, &n, &err) < 0)
		return 1; /* unknown: assume it does */
	for (size_t i = 0; i < n && !aws; i++)
		aws = sf_provider_sweeps(sf_provider_of(sf_rtype_find(v[i]->type)));
	sf_resource_list_free(v, n);
	return aws;
}

/* One state to look at: a file (--state, or the state directory's) or a
 * workspace of the shared backend. */
struct gc_ref {
	char *target, *workspace, *label;
};

static int gc_one(struct sf_cli *cli, const struct gc_ref *ref, double now, int act, int *found, int *failed,
		  int *aws_found)
{
	struct sf_ws ws;
	struct sf_err err = SF_ERR_INIT;
	struct sf_plan plan;
	char *exp = NULL;
	const char *path = ref->label;
	memset(&ws, 0, sizeof ws);
	memset(&plan, 0, sizeof plan);
	ws.state_path = xstrdup(ref->target);
	ws.state_ws = xstrdup(ref->workspace);
	int rc = sf_run_open(cli, &ws, NULL, "gc", 0, act, act);
	if (rc) {
		(*failed)++;
		goto done;
	}
	if (sf_state_meta_get(ws.st, "expires_at", &exp, &err) < 0) {
		rc = 0; /* not ephemeral */
		goto done;
	}
	double left = 0;
	sf_ttl_remaining(exp, now, &left);
	if (sf_ttl_expired(exp, now) != 1) {
		char d[32];
		fprintf(cli->out, "%s: expires %s (in %s); kept\n", path, exp, sf_duration_fmt(d, sizeof d, left));
		goto done;
	}
	(*found)++;
	if (has_aws(ws.st))
		(*aws_found)++;
	struct sf_plan_opts po = {.destroy = 1, .providers = &ws.prov, .types = sf_types()};
	if (sf_plan_make(&plan, &ws.cfg, ws.st, &po, &err) < 0) {
		(*failed)++;
		rc = sf_cli_error(cli, &err);
		goto done;
	}
	if (!act) {
		fprintf(cli->out, "%s: expired at %s; would destroy %d resource(s)\n", path, exp, plan.destroy);
		goto done;
	}
	fprintf(cli->out, "%s: expired at %s; destroying %d resource(s)\n", path, exp, plan.destroy);
	if (sf_plan_has_changes(&plan) && (rc = sf_cmd_execute(cli, &ws, &plan, "gc")) != 0) {
		(*failed)++;
		goto done;
	}
	if (sf_state_meta_set(ws.st, "expires_at", NULL, &err) < 0 || sf_state_meta_set(ws.st, "ttl", NULL, &err) < 0) {
		(*failed)++;
		rc = sf_cli_error(cli, &err);
	}
done:
	free(exp);
	sf_plan_release(&plan);
	sf_run_close(&ws);
	return rc;
}

/* What the readable states know, for the sweep's is_known. */
struct known_state {
	char *workspace; /* file name without .db */
	char *path;      /* where it was read, for messages */
	char *lineage;
	json_t *names;   /* object: addresses and operation tokens -> true */
};

struct known {
	struct known_state *v;
	size_t n;
	const char *where; /* the state directory, or "the shared state" */
	const char *dir;   /* the state directory, NULL for a shared state */
	char **named;      /* --dead-workspace values (borrowed) */
	size_t nnamed;
	json_t *unknown;   /* workspace -> lineages seen ({lineage: true}) of objects no state knows */
};

static void known_release(struct known *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free(k->v[i].workspace);
		free(k->v[i].path);
		free(k->v[i].lineage);
		json_decref(k->v[i].names);
	}
	free(k->v);
	json_decref(k->unknown);
}

/* Read one state without locking it (a running apply holds the lock and is
 * exactly the case whose objects must count as known). */
static int known_add(struct sf_cli *cli, struct known *k, const struct gc_ref *ref, struct sf_err *err)
{
	struct sf_state *st = NULL;
	struct sf_state_opts so = {.readonly = 1, .workspace = ref->workspace, .schema = cli->backend_schema};
	struct sf_journal_entry *j = NULL;
	struct sf_resource **r = NULL;
	size_t nj = 0, nr = 0;
	const char *path = ref->label;
	int rc = sf_state_open(&st, ref->target, &so, err);
	if (rc < 0)
		goto done;
	const char *lin = sf_state_lineage(st);
	if (!lin) {
		rc = sf_fail(err, SF_EIO, "cannot read the lineage of %s", path);
		goto done;
	}
	if ((rc = sf_journal_list(st, NULL, 0, &j, &nj, err)) < 0)
		goto done;
	json_t *names = json_object();
	for (size_t i = 0; i < nj; i++) {
		if (j[i].address)
			json_object_set_new(names, j[i].address, json_true());
		if (j[i].token)
			json_object_set_new(names, j[i].token, json_true());
	}
	/* imported resources may have no journal rows; a state with secrets
	 * whose key is missing still knows its lineage, so count it whole */
	if (sf_state_list(st, &r, &nr, err) < 0) {
		sf_err_clear(err);
		json_decref(names);
		names = NULL;
	}
	for (size_t i = 0; i < nr && names; i++)
		json_object_set_new(names, r[i]->address, json_true());
	const char *base = ref->workspace ? ref->workspace : strrchr(path, '/');
	base = ref->workspace ? base : base ? base + 1 : path;
	size_t bl = strlen(base);
	k->v = xrealloc(k->v, (k->n + 1) * sizeof *k->v);
	k->v[k->n++] = (struct known_state){
		xstrndup(base, !ref->workspace && bl > 3 && !strcmp(base + bl - 3, ".db") ? bl - 3 : bl), xstrdup(path),
		xstrdup(lin), names};
done:
	sf_resource_list_free(r, nr);
	sf_journal_free(j, nj);
	sf_state_close(st);
	return rc;
}

static enum sf_sweep_verdict is_known(const char *workspace, const char *lineage, const char *address,
				      const char *token, char **why, void *ctx)
{
	struct known *k = ctx;
	const struct known_state *found = NULL;
	for (size_t i = 0; i < k->n; i++) {
		const struct known_state *s = &k->v[i];
		if (lineage ? strcmp(lineage, s->lineage) != 0 : strcmp(workspace, s->workspace) != 0)
			continue;
		/* the state exists; it knows the object if it ever recorded its
		 * address or the operation that made it (a run killed before its
		 * intent was written made an object the state never heard of) */
		if (!s->names || (!address && !token) || (address && json_object_get(s->names, address)) ||
		    (token && json_object_get(s->names, token)))
			return SF_SWEEP_KEEP;
		found = s;
	}
	if (found) {
		*why = xasprintf("state %s (lineage %s) never recorded it", found->path, found->lineage);
		return SF_SWEEP_ORPHAN;
	}
	for (size_t i = 0; i < k->nnamed; i++)
		if (!strcmp(k->named[i], workspace)) {
			*why = lineage ? xasprintf("workspace %s named with --dead-workspace; no state here has its lineage %s",
						   workspace, lineage)
				       : xasprintf("workspace %s named with --dead-workspace; no state here knows it", workspace);
			return SF_SWEEP_ORPHAN;
		}
	/* another directory, another team or a CI runner may hold its state:
	 * alive as far as gc can tell */
	json_t *lins = json_object_get(k->unknown, workspace);
	if (!lins) {
		lins = json_object();
		json_object_set_new(k->unknown, workspace, lins);
	}
	json_object_set_new(lins, lineage ? lineage : "", json_true());
	*why = lineage ? xasprintf("no state in %s knows workspace %s (lineage %s); it may be live elsewhere", k->where,
				   workspace, lineage)
		       : xasprintf("no state in %s knows workspace %s; it may be live elsewhere", k->where, workspace);
	return SF_SWEEP_UNKNOWN;
}

/* The refusal's summary: which workspaces, and how to name one. */
static void print_unknown(struct sf_cli *cli, const struct known *k, int unknown)
{
	struct sf_buf b = SF_BUF_INIT;
	const char *ws;
	json_t *lins;
	json_object_foreach(k->unknown, ws, lins)
	{
		const char *lin;
		json_t *t;
		sf_buf_printf(&b, "%s%s", b.len ? ", " : "", ws);
		int first = 1;
		json_object_foreach(lins, lin, t)
		{
			if (!*lin)
				continue;
			sf_buf_printf(&b, "%s%s", first ? " (lineage " : ", ", lin);
			first = 0;
		}
		if (!first)
			sf_buf_puts(&b, ")");
	}
	fprintf(cli->out,
		"gc: not deleting %d object(s) of workspace(s) no state in %s knows: %s; their state may live elsewhere. "
		"If one is dead, delete its objects with `secfaas gc%s%s --dead-workspace NAME --auto-approve`\n",
		unknown, k->where, sf_buf_cstr(&b), k->dir ? " --state-dir " : "", k->dir ? k->dir : "");
	sf_buf_release(&b);
}

/* Phase 2. Returns the exit status contribution (0 or SF_EXIT_ERROR). */
static int sweep(struct sf_cli *cli, struct known *k, const char *unreadable, const struct sf_err *aws_err, double now,
		 int act, int aws_found)
{
	struct sf_providers p;
	struct sf_err err = SF_ERR_INIT;
	struct sf_buf rep = SF_BUF_INIT;
	int rc = SF_EXIT_OK, left = 0, unknown = 0;
	sf_providers_init(&p);
	p.region = cli->region;
	p.profile = cli->profile;
	if (unreadable) {
		fprintf(cli->out, "gc: sweep skipped: state %s could not be read, so its objects could not be told from orphans; fix or move it and run gc again\n",
			unreadable);
		rc = SF_EXIT_ERROR;
		goto done;
	}
	if (aws_err->code) {
		fprintf(cli->out, "gc: sweep skipped: %s%s%s\n", aws_err->msg, aws_err->hint[0] ? "; " : "",
			aws_err->hint);
		if (aws_found) {
			fprintf(cli->out, "gc: %d expired workspace(s) held AWS objects that could not be swept\n", aws_found);
			rc = SF_EXIT_ERROR;
		}
		goto done;
	}
	size_t np;
	const struct sf_provider *const *provs = sf_provider_all(&np);
	int n = sf_sweep(&p, provs, np, is_known, k, now, !act, &rep, &left, &unknown, &err);
	fputs(sf_buf_cstr(&rep), cli->out);
	if (n >= 0 && unknown)
		print_unknown(cli, k, unknown);
	if (n < 0) {
		rc = sf_cli_error(cli, &err);
	} else if (!n) {
		fprintf(cli->out, "gc: sweep found no orphaned or expired objects\n");
	} else if (!act) {
		fprintf(cli->out, "gc: sweep found %d orphaned or expired object(s); run `secfaas gc --auto-approve` to delete them\n",
			n);
		rc = SF_EXIT_ERROR; /* left in place: a dry run tells the scheduler there is work */
	} else {
		fprintf(cli->out, "gc: sweep deleted %d object(s), %d left\n", n - left, left);
		if (left)
			rc = SF_EXIT_ERROR;
	}
done:
	sf_buf_release(&rep);
	sf_providers_release(&p);
	return rc;
}

static void refs_free(struct gc_ref *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].target);
		free(v[i].workspace);
		free(v[i].label);
	}
	free(v);
}

/* Every state gc looks after: each file of the state directory, or every
 * workspace of the shared database (the whole team's, not this runner's). */
static int list_refs(struct sf_cli *cli, const char *dir, struct gc_ref **out, size_t *n, const char **state_dir)
{
	struct sf_err err = SF_ERR_INIT;
	struct sf_state_opts so = {.schema = cli->backend_schema};
	char **names = NULL;
	size_t k = 0;
	int url = !dir && sf_run_backend_is_url(cli);
	const char *where = url ? cli->backend : dir ? dir : sf_run_state_dir(cli);
	*out = NULL;
	*n = 0;
	*state_dir = url ? NULL : where;
	if (!url) {
		struct stat sb;
		if (stat(where, &sb) < 0 || !S_ISDIR(sb.st_mode))
			return sf_cli_errorf(cli, "cannot read state directory %s; pass --state-dir DIR", where);
	}
	if (sf_state_workspaces(where, &so, &names, &k, &err) < 0)
		return sf_cli_error(cli, &err);
	struct gc_ref *v = xcalloc(k + 1, sizeof *v);
	for (size_t i = 0; i < k; i++) {
		if (url) {
			v[i].target = xstrdup(cli->backend);
			v[i].workspace = names[i];
			v[i].label = xasprintf("workspace %s", names[i]);
		} else {
			v[i].target = xasprintf("%s/%s.db", where, names[i]);
			v[i].label = xstrdup(v[i].target);
			free(names[i]);
		}
	}
	free(names);
	*out = v;
	*n = k;
	return 0;
}

/* Both phases, after the arguments were read (cmd_gc). */
static int gc_run(struct sf_cli *cli, const char *dir, const char *at, int dry, int no_sweep, char **named,
		  size_t nnamed)
{
	double now = sf_now();
	if (at && sf_time_parse(at, &now) < 0)
		return sf_cli_errorf(cli, "--now must be an RFC 3339 UTC time like 2026-05-02T10:14:07Z");
	int act = !dry && cli->auto_approve;
	struct gc_ref *refs = NULL;
	size_t n = 0;
	const char *state_dir = NULL;
	int lrc = list_refs(cli, dir, &refs, &n, &state_dir);
	if (lrc)
		return lrc;
	/* Learn what every state knows before phase 1 changes anything, and
	 * take "now" from AWS's clock when the sweep will talk to AWS anyway. */
	struct known k = {NULL, 0, state_dir ? state_dir : "the shared state", state_dir, named, nnamed, json_object()};
	char *unreadable = NULL;
	struct sf_err aws_err = SF_ERR_INIT;
	if (!no_sweep) {
		for (size_t i = 0; i <= n; i++) {
			struct gc_ref extra = {(char *)cli->state_path, NULL, (char *)cli->state_path};
			const struct gc_ref *ref = i < n ? &refs[i] : cli->state_path ? &extra : NULL; /* --state: one more */
			struct sf_err err = SF_ERR_INIT;
			if (ref && known_add(cli, &k, ref, &err) < 0 && !unreadable) {
				sf_warn("gc: %s", err.msg);
				unreadable = xstrdup(ref->label);
			}
		}
		if (!unreadable) {
			/* also proves the credentials before anything is deleted */
			struct sf_providers p;
			double server;
			sf_providers_init(&p);
			p.region = cli->region;
			p.profile = cli->profile;
			size_t np;
			const struct sf_provider *const *provs = sf_provider_all(&np);
			if (sf_sweep_now(&p, provs, np, &server, &aws_err) == 0 && !at)
				now = server;
			sf_providers_release(&p);
		}
	}
	int found = 0, failed = 0, aws_found = 0;
	for (size_t i = 0; i < n; i++)
		gc_one(cli, &refs[i], now, act, &found, &failed, &aws_found);
	refs_free(refs, n);
	if (!found)
		fprintf(cli->out, "gc: nothing has expired (%zu state%s checked)\n", n, n == 1 ? "" : "s");
	else if (!act)
		fprintf(cli->out, "gc: %d expired workspace(s); run `secfaas gc --auto-approve` to destroy them\n", found);
	else
		fprintf(cli->out, "gc: %d expired workspace(s), %d could not be removed\n", found, failed);
	/* listed only: a dry run tells the scheduler there is work */
	int rc = failed || (found && !act) ? SF_EXIT_ERROR : SF_EXIT_OK;
	if (!no_sweep && sweep(cli, &k, unreadable, &aws_err, now, act, aws_found) != SF_EXIT_OK)
		rc = SF_EXIT_ERROR;
	known_release(&k);
	free(unreadable);
	return rc;
}

int cmd_gc(struct sf_cli *cli, int argc, char **argv)
{
	const char *dir = NULL, *at = NULL, *ws = NULL;
	int dry = 0, no_sweep = 0;
	/* --dead-workspace values point into argv */
	char **named = xcalloc((size_t)argc, sizeof *named);
	size_t nnamed = 0;
	for (int i = 1; i < argc; i++) {
		int m;
		if (sf_opt_match(argc, argv, &i, "dry-run", 0, NULL) > 0) {
			dry = 1;
		} else if (sf_opt_match(argc, argv, &i, "no-sweep", 0, NULL) > 0) {
			no_sweep = 1;
		} else if ((m = sf_opt_match(argc, argv, &i, "dead-workspace", 1, &ws))) {
			if (m < 0 || !*ws) {
				free(named);
				return sf_cli_errorf(cli, "--dead-workspace needs the name of a workspace (metadata.name)");
			}
			named[nnamed++] = (char *)ws;
		} else if ((m = sf_opt_match(argc, argv, &i, "state-dir", 1, &dir)) ||
			   (m = sf_opt_match(argc, argv, &i, "now", 1, &at))) {
			if (m < 0) {
				free(named);
				return sf_cli_errorf(cli, "%s needs a value", argv[i]);
			}
		} else if (argv[i][0] == '-') {
			free(named);
			return sf_cli_unknown_option(cli, "gc", argv[i]);
		} else {
			free(named);
			return sf_cli_errorf(cli, "unknown argument %s for gc; see `secfaas gc --help`", argv[i]);
		}
	}
	if (nnamed && no_sweep) {
		free(named);
		return sf_cli_errorf(cli, "--dead-workspace names a workspace for the sweep; it cannot go with --no-sweep");
	}
	int rc = gc_run(cli, dir, at, dry, no_sweep, named, nnamed);
	free(named);
	return rc;
}

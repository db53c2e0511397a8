/*
 * cmd_all.c - `plan --all` and `apply --all`: every workspace (cluster) in a
 * spec directory or repository, each with its own state file.
 *
 * plan --all plans the workspaces in this process from the spec set loaded
 * once, --cluster-parallelism at a time (default 4), shows them in order and
 * ends with a summary table; it writes no state and takes no lock.
 * refresh --all runs the same way, each workspace under its own lock, and
 * writes what its refresh read into its state; a workspace another run
 * holds is skipped with a line saying by whom.  Both let every workspace
 * register its recorded ids first, so the fleet's refresh reads each type
 * once per region (resources/aws_batch.h), not once per workspace.  With --prune, state files whose workspace is no longer
 * in the spec are planned for destruction (without it they are only listed,
 * so deleting a file from a repo never destroys a cluster by accident).
 * apply --all runs one child `secfaas apply` (or `destroy` for pruned
 * workspaces) per workspace, at most --cluster-parallelism at once, each under
 * its own state lock.  Each child's lines are streamed as they come, whole
 * lines only, prefixed "[workspace] " (with --json: the JSON lines as they
 * are), so a CI log shows every cluster's progress while it happens; the
 * child's output is also kept in a file to read its counts from at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aws/creds.h"
#include "provisioner/cli/commands.h"
#include "provisioner/cli/plan_cmd.h"
#include "provisioner/cli/run.h"
#include "provisioner/kinds/kinds.h"
#include "resources/aws_batch.h"
#include "resources/estimate.h"
#include "resources/providers.h"
#include "util.h"

struct wsrow {
	char *name;
	int in_spec;       /* 0: state only (prune candidate) */
	int add, change, destroy;
	int drift;         /* plan --all --refresh-only, refresh --all: objects changed outside secfaas */
	int updated, removed; /* refresh --all: state rows it rewrote, and dropped as gone */
	int absent;        /* refresh --all: never applied, no state to refresh */
	int stored;        /* the backend listed a state for it */
	int errored;
	int rc;            /* apply --all: child exit status */
	pid_t pid;
	char *log;         /* apply --all: captured output file */
	int out;           /* apply --all: read end of the child's stdout+stderr, -1 when closed */
	int logfd;         /* apply --all: the log file, -1 when closed */
	struct sf_buf line; /* apply --all: the unfinished last line */
	char *skipped;     /* apply --all, refresh --all: left to another runner, and why ("held by ...") */
};

static void rows_free(struct wsrow *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sf_buf_release(&v[i].line);
		free(v[i].name);
		free(v[i].skipped);
		if (v[i].log) {
			unlink(v[i].log);
			free(v[i].log);
		}
	}
	free(v);
}

/* Workspaces in the spec, then workspaces the backend holds without a spec
 * (every workspace of a shared database, not only local files).  keep
 * non-NULL: the set is kept there, its documents checked once, for the
 * caller to build every workspace from (release it with
 * sf_specset_release); each spec file or git blob is read once per run. */
static int collect(struct sf_cli *cli, struct sf_plan_args *pa, struct wsrow **out, size_t *n,
		   struct sf_specset *keep)
{
	struct sf_specset own = SF_SPECSET_INIT, *setp = keep ? keep : &own;
	struct sf_diags d = SF_DIAGS_INIT;
	struct sf_err err = SF_ERR_INIT;
	*out = NULL;
	*n = 0;
	if (cli->state_path)
		return sf_cli_errorf(cli, "--all uses one state per workspace in the backend; drop --state");
	sf_run_load_set(cli, pa->spec, setp, &d, NULL, NULL);
	if (!d.nerrors && keep)
		sf_config_check_specs(setp, &d);
	/* every workspace is built from this set: each finds its documents
	 * by a lookup, not a scan of all of them */
	if (!d.nerrors && keep)
		sf_specset_index(setp);
	if (d.nerrors) {
		sf_diags_print(&d, cli->errf, cli->color);
		fprintf(cli->errf, "secfaas: %zu error%s in %s; nothing was changed\n", d.nerrors,
			d.nerrors == 1 ? "" : "s", pa->spec ? pa->spec : cli->repo ? cli->repo : sf_run_default_spec());
		sf_diags_release(&d);
		sf_specset_release(setp);
		return SF_EXIT_ERROR;
	}
	const char **names;
	size_t nn = sf_config_workspaces(setp, &names);
	struct wsrow *v = xcalloc(nn + 1, sizeof *v);
	for (size_t i = 0; i < nn; i++) {
		v[i].name = xstrdup(names[i]);
		v[i].in_spec = 1;
	}
	size_t k = nn;
	free(names);
	sf_diags_release(&d);
	if (!keep)
		sf_specset_release(&own);
	char **have = NULL;
	size_t nh = 0;
	struct sf_state_opts so = {.schema = cli->backend_schema};
	const char *dir = sf_run_state_dir(cli);
	if (sf_state_workspaces(dir ? dir : cli->backend, &so, &have, &nh, &err) < 0) {
		rows_free(v, k);
		return sf_cli_error(cli, &err);
	}
	for (size_t j = 0; j < nh; j++) {
		int known = 0;
		for (size_t i = 0; i < k; i++)
			if (!strcmp(v[i].name, have[j]))
				known = v[i].stored = 1;
		if (known) {
			free(have[j]);
			continue;
		}
		v = xrealloc(v, (k + 1) * sizeof *v);
		memset(&v[k], 0, sizeof v[k]);
		v[k].stored = 1;
		v[k++].name = have[j];
	}
	free(have);
	*out = v;
	*n = k;
	return 0;
}

enum allmode { ALL_PLAN, ALL_APPLY, ALL_REFRESH };

static void summary(struct sf_cli *cli, struct wsrow *v, size_t n, enum allmode mode, int prune)
{
	if (cli->json)
		return;
	int apply = mode == ALL_APPLY, refresh = mode == ALL_REFRESH;
	int here = 0, other = 0, errors = 0, written = 0;
	if (refresh)
		fprintf(cli->out, "\n%-28s %5s %7s %7s  %s\n", "WORKSPACE", "DRIFT", "UPDATED", "REMOVED", "RESULT");
	else
		fprintf(cli->out, "\n%-28s %5s %7s %8s  %s\n", "WORKSPACE", "ADD", "CHANGE", "DESTROY", "RESULT");
	for (size_t i = 0; i < n; i++) {
		const char *res;
		if (!v[i].in_spec && refresh) {
			res = "not in the spec: not refreshed";
		} else if (v[i].absent) {
			res = "never applied: nothing to refresh";
		} else if (!v[i].in_spec && !prune) {
			res = "not in the spec (add --prune to destroy it)";
		} else if (v[i].skipped) {
			res = v[i].skipped;
			other++;
		} else if (v[i].errored || (apply && v[i].rc)) {
			res = "error";
			errors++;
		} else if (refresh) {
			res = v[i].updated || v[i].removed ? "state updated" : v[i].drift ? "changed outside secfaas" : "no drift";
			written += v[i].updated || v[i].removed;
			here++;
		} else {
			int none = !v[i].add && !v[i].change && !v[i].destroy;
			res = none && v[i].drift ? "changed outside secfaas" : none ? "no changes" : apply ? "applied" : "changes";
			here++;
		}
		if (refresh)
			fprintf(cli->out, "%-28s %5d %7d %7d  %s\n", v[i].name, v[i].drift, v[i].updated, v[i].removed, res);
		else
			fprintf(cli->out, "%-28s %5d %7d %8d  %s\n", v[i].name, v[i].add, v[i].change, v[i].destroy, res);
	}
	if (apply)
		fprintf(cli->out, "\n%d workspace%s applied by this runner, %d left to other runners, %d failed.\n", here,
			here == 1 ? "" : "s", other, errors);
	if (refresh)
		fprintf(cli->out, "\n%d workspace%s refreshed (%d state%s updated), %d held by other runs, %d failed.\n", here,
			here == 1 ? "" : "s", written, written == 1 ? "" : "s", other, errors);
}

/* One workspace's plan for plan --all, made by a worker: what it printed
 * (its plan section, its errors) is kept here until the workspaces before
 * it are shown, so the output reads as if they were planned in order. */
/* Workspaces plan --all plans at once unless --cluster-parallelism says. */
enum { PLAN_ALL_PARALLELISM = 4 };

struct planjob {
	struct wsrow *row;
	char *out, *err; /* the workspace's stdout and stderr text */
	size_t outlen, errlen;
	json_t *json;    /* --json: its plan */
	int rc;
	int done;
};

/* What a fleet run lends every workspace's providers (providers.h): the
 * refresh answers (aws_batch.h; NULL without a refresh), the answers that
 * do not change within the run, the credentials of its AWS clients. */
struct lent {
	struct ax_reads *reads;
	struct sf_memo memo;
	struct sf_creds_share *creds;
};

/* After the workspace's providers are set up (its open). */
static void lend(struct sf_ws *ws, struct lent *l)
{
	if (!ws->prov_init)
		return;
	if (l->reads) {
		ws->prov.reads = l->reads;
		ws->prov.reads_lent = 1;
	}
	ws->prov.memo = &l->memo;
	ws->prov.creds_share = l->creds;
}

struct planrun {
	struct sf_cli *cli;
	struct sf_plan_args *pa;
	const struct sf_specset *set;
	struct lent lent;       /* what every workspace's providers share */
	int prefetch;           /* this pass only registers each workspace's ids in reads */
	int refresh;            /* refresh --all: each workspace locked, its state written */
	struct planjob *jobs;
	size_t njobs, next;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

/* One workspace's plan, built from the set loaded once; its state is read
 * without a lock, and a workspace with none is planned against nothing
 * (a plan of a fleet creates no state and takes no lock).  One the
 * backend did not list has none to read: it is not opened, which against
 * a shared database saves a connection per new workspace.  Prints through
 * its own cli (the worker's buffers); pa is the worker's copy. */
static int plan_one(struct sf_cli *cli, struct sf_plan_args *pa, const struct sf_specset *set, struct lent *l,
		    struct planjob *job)
{
	struct wsrow *row = job->row;
	struct sf_ws ws;
	struct sf_plan plan;
	memset(&ws, 0, sizeof ws);
	memset(&plan, 0, sizeof plan);
	int rc;
	if (row->in_spec) {
		rc = sf_run_build(cli, set, row->name, &ws);
	} else {
		rc = sf_run_state_target(cli, row->name, &ws.state_path, &ws.state_ws);
		pa->opts.destroy = 1;
	}
	if (!rc)
		rc = row->stored ? sf_run_open_plan(cli, &ws, row->name, 0) : sf_run_open_plan_new(cli, &ws, row->name);
	if (!rc)
		lend(&ws, l);
	if (!rc)
		rc = sf_make_plan(cli, &ws, pa, &plan);
	if (rc) {
		row->errored = 1;
	} else {
		row->add = plan.add;
		row->change = plan.change;
		row->destroy = plan.destroy;
		row->drift = (int)plan.ndrift;
		if (cli->json)
			job->json = sf_plan_json_ws(cli, &ws, &plan, pa->opts.refresh ? SF_PRICES_ONLINE : SF_PRICES_OFFLINE);
		else if (!pa->summary) {
			fprintf(cli->out, "\n=== workspace %s%s ===\n", row->name, row->in_spec ? "" : " (removed from the spec: destroy)");
			sf_print_plan_ws(cli, &ws, &plan, pa->full, pa->opts.refresh ? SF_PRICES_ONLINE : SF_PRICES_OFFLINE);
		}
	}
	sf_plan_release(&plan);
	sf_run_close(&ws);
	return rc;
}

/* One workspace's refresh for refresh --all: under its own lock (taken
 * without waiting: a workspace another run holds is that run's, skipped
 * with a line naming the holder), the refresh-only plan read from the
 * answers the fleet shares, then its verdicts written to the state.  A
 * lock whose holder stopped beating is not a run in progress: that is an
 * error naming the force-unlock that clears it. */
static int refresh_one(struct sf_cli *cli, struct sf_plan_args *pa, const struct sf_specset *set, struct lent *l,
		       struct planjob *job)
{
	struct wsrow *row = job->row;
	struct sf_ws ws;
	struct sf_plan plan;
	memset(&ws, 0, sizeof ws);
	memset(&plan, 0, sizeof plan);
	int rc = sf_run_build(cli, set, row->name, &ws);
	ws.skip_locked = 1;
	ws.absent_ok = 1;
	if (!rc && (rc = sf_run_open(cli, &ws, row->name, "refresh", 0, 1, 0)) && ws.held) {
		const struct sf_lock_info *h = &ws.holder;
		if (sf_lock_is_stale(h, sf_now())) {
			fprintf(cli->errf,
				"secfaas: error: workspace %s: its lock %s (%s, pid %d) looks stale (no heartbeat for over 5 "
				"minutes); if no secfaas run is using it, remove it with `secfaas force-unlock %s --workspace %s`\n",
				row->name, h->id, h->who, h->pid, h->id, row->name);
		} else {
			row->skipped = xasprintf("held by %s (pid %d): not refreshed", h->who, h->pid);
			if (!cli->json)
				fprintf(cli->out, "%sSkipped: workspace %s is held by %s (pid %d, %s): not refreshed.\n",
					pa->summary ? "" : "\n", row->name, h->who, h->pid, h->operation);
			rc = 0;
		}
		goto done;
	}
	if (!rc && !ws.st) {
		row->absent = 1;
		goto done;
	}
	if (!rc)
		lend(&ws, l);
	if (!rc)
		rc = sf_make_plan(cli, &ws, pa, &plan);
	if (rc)
		goto done;
	row->drift = (int)plan.ndrift;
	if (plan.ndrift && (rc = sf_refresh_write(cli, &ws, &plan, &row->updated, &row->removed)))
		goto done;
	if (cli->json) {
		job->json = sf_plan_render_json(&plan);
		json_object_set_new(job->json, "refresh",
				    json_pack("{s:i, s:i}", "updated", row->updated, "removed", row->removed));
	} else if (!pa->summary) {
		fprintf(cli->out, "\n=== workspace %s ===\n", row->name);
		sf_print_plan(cli, &plan, pa->full);
		if (plan.ndrift)
			fprintf(cli->out, "Refresh complete: %d resource(s) updated, %d removed from state (deleted outside secfaas).\n",
				row->updated, row->removed);
	}
done:
	if (rc)
		row->errored = 1;
	sf_plan_release(&plan);
	sf_run_close(&ws);
	return rc;
}

/* The first pass of a refreshing plan --all: a workspace with a state
 * registers the ids its refresh will read in the shared answers, without a
 * call, so that the plans after it read each type once per region for the
 * whole fleet.  What goes wrong here is left for its plan to report. */
static void prefetch_one(struct sf_cli *cli, struct sf_plan_args *pa, const struct sf_specset *set, struct lent *l,
			 struct wsrow *row)
{
	/* a workspace never applied has nothing to read: not even built */
	if (!row->in_spec || !row->stored)
		return;
	struct sf_ws ws;
	memset(&ws, 0, sizeof ws);
	if (!sf_run_build(cli, set, row->name, &ws) && !sf_run_open_plan(cli, &ws, row->name, 0) && ws.st) {
		lend(&ws, l);
		struct sf_plan_opts o = pa->opts;
		o.providers = &ws.prov;
		o.parallelism = cli->parallelism;
		struct sf_err err = SF_ERR_INIT;
		(void)sf_plan_prefetch(&ws.cfg, ws.st, &o, &err);
	}
	sf_run_close(&ws);
}

static void *plan_worker(void *arg)
{
	struct planrun *r = arg;
	for (;;) {
		pthread_mutex_lock(&r->mu);
		size_t i = r->next++;
		pthread_mutex_unlock(&r->mu);
		if (i >= r->njobs)
			return NULL;
		struct planjob *job = &r->jobs[i];
		struct sf_cli cli = *r->cli;
		struct sf_plan_args pa = *r->pa;
		FILE *out = open_memstream(&job->out, &job->outlen);
		FILE *err = open_memstream(&job->err, &job->errlen);
		if (!out || !err) {
			fputs("secfaas: out of memory\n", stderr);
			abort();
		}
		cli.out = out;
		cli.errf = err;
		if (r->prefetch) {
			if (!*sf_run_cancel_flag())
				prefetch_one(&cli, &pa, r->set, &r->lent, job->row);
			fclose(out);
			fclose(err);
			free(job->out);
			free(job->err);
			job->out = job->err = NULL;
			job->outlen = job->errlen = 0;
			continue;
		}
		job->rc = *sf_run_cancel_flag() ? SF_EXIT_ERROR
			  : r->refresh	      ? refresh_one(&cli, &pa, r->set, &r->lent, job)
					      : plan_one(&cli, &pa, r->set, &r->lent, job);
		if (job->rc && !job->row->errored)
			job->row->errored = 1;
		fclose(out);
		fclose(err);
		pthread_mutex_lock(&r->mu);
		job->done = 1;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
	}
}

static int run_all(struct sf_cli *cli, struct sf_plan_args *pa, int refresh)
{
	struct wsrow *v;
	size_t n;
	struct sf_specset set = SF_SPECSET_INIT;
	int rc = collect(cli, pa, &v, &n, &set);
	if (rc)
		return rc;
	json_t *jall = cli->json ? json_object() : NULL;
	int errors = 0, changes = 0;
	/* The workspaces plan side by side (each mostly waits on its reads
	 * of AWS), --cluster-parallelism at once, and are shown in order. */
	struct planrun r = {.cli = cli, .pa = pa, .set = &set, .refresh = refresh};
	/* each region's prices are asked once for the whole run */
	struct sf_price_cache *prices = sf_price_cache_new();
	cli->prices = prices;
	r.jobs = xcalloc(n + 1, sizeof *r.jobs);
	for (size_t i = 0; i < n; i++) {
		if (!v[i].in_spec && refresh)
			continue; /* no spec to read its objects by: listed, never touched */
		if (!v[i].in_spec && !pa->prune) {
			/* a workspace whose spec is gone is pending work (a destroy
			 * under --prune): --detailed-exitcode must not call it clean */
			changes = 1;
			continue;
		}
		r.jobs[r.njobs++].row = &v[i];
	}
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	sf_memo_init(&r.lent.memo);
	r.lent.creds = sf_creds_share_new();
	/* each workspace's state takes the connection one before it closed
	 * (a shared PostgreSQL state; a refresh's once its lock is released) */
	sf_state_reuse_connections(1);
	size_t nthreads = (size_t)(pa->cluster_parallelism > 0 ? pa->cluster_parallelism : PLAN_ALL_PARALLELISM);
	if (nthreads > r.njobs)
		nthreads = r.njobs;
	pthread_t *th = xcalloc(nthreads + 1, sizeof *th);
	size_t started = 0;
	/* A refresh reads each type once per region and account for the whole
	 * fleet, not once per workspace: every workspace first says what it
	 * will read (no call), then the first read of a type asks for all. */
	if ((pa->opts.refresh || pa->opts.refresh_only) && !pa->opts.destroy && r.njobs) {
		r.lent.reads = ax_reads_new();
		/* the new workspaces' name checks may share listings */
		size_t fresh = 0;
		for (size_t i = 0; i < r.njobs; i++)
			fresh += r.jobs[i].row->in_spec && !r.jobs[i].row->stored;
		ax_reads_fleet(r.lent.reads, fresh);
		ax_reads_gather(r.lent.reads, 1);
		r.prefetch = 1;
		for (; started < nthreads; started++)
			if (pthread_create(&th[started], NULL, plan_worker, &r))
				break;
		if (!started)
			plan_worker(&r);
		for (size_t t = 0; t < started; t++)
			pthread_join(th[t], NULL);
		started = 0;
		r.prefetch = 0;
		r.next = 0;
		ax_reads_gather(r.lent.reads, 0);
	}
	for (; started < nthreads; started++)
		if (pthread_create(&th[started], NULL, plan_worker, &r))
			break;
	if (!started && r.njobs)
		plan_worker(&r); /* no thread to be had: plan them here */
	for (size_t i = 0; i < r.njobs; i++) {
		struct planjob *job = &r.jobs[i];
		pthread_mutex_lock(&r.mu);
		while (!job->done)
			pthread_cond_wait(&r.cv, &r.mu);
		pthread_mutex_unlock(&r.mu);
		if (job->outlen)
			fwrite(job->out, 1, job->outlen, cli->out);
		if (job->errlen)
			fwrite(job->err, 1, job->errlen, cli->errf);
		fflush(cli->out);
		free(job->out);
		free(job->err);
		if (job->json)
			json_object_set_new(jall, job->row->name, job->json);
		if (job->rc)
			errors++;
		if (refresh ? job->row->updated || job->row->removed
			    : job->row->add || job->row->change || job->row->destroy || (pa->opts.refresh_only && job->row->drift))
			changes = 1;
	}
	for (size_t t = 0; t < started; t++)
		pthread_join(th[t], NULL);
	free(th);
	free(r.jobs);
	pthread_cond_destroy(&r.cv);
	pthread_mutex_destroy(&r.mu);
	sf_memo_release(&r.lent.memo);
	sf_creds_share_free(r.lent.creds);
	sf_state_reuse_connections(0);
	cli->prices = NULL;
	sf_price_cache_free(prices);
	ax_reads_free(r.lent.reads);
	sf_specset_release(&set);
	summary(cli, v, n, r.refresh ? ALL_REFRESH : ALL_PLAN, pa->prune);
	if (jall) {
		json_t *sum = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(
				sum, refresh ? json_pack("{s:s, s:b, s:b, s:i, s:i, s:i, s:s?}", "workspace", v[i].name, "in_spec",
							 v[i].in_spec, "errored", v[i].errored, "drift", v[i].drift, "updated",
							 v[i].updated, "removed", v[i].removed, "skipped", v[i].skipped)
					     : json_pack("{s:s, s:b, s:b, s:i, s:i, s:i}", "workspace", v[i].name, "in_spec",
							 v[i].in_spec, "errored", v[i].errored, "add", v[i].add, "change",
							 v[i].change, "destroy", v[i].destroy));
		sf_cli_print_json(cli, json_pack("{s:o, s:o}", "workspaces", jall, "summary", sum));
	}
	rows_free(v, n);
	if (errors)
		return SF_EXIT_ERROR;
	return cli->detailed_exitcode && changes ? SF_EXIT_CHANGES : SF_EXIT_OK;
}

int sf_cmd_plan_all(struct sf_cli *cli, struct sf_plan_args *pa)
{
	return run_all(cli, pa, 0);
}

int sf_cmd_refresh_all(struct sf_cli *cli, struct sf_plan_args *pa)
{
	if (pa->prune)
		return sf_cli_errorf(cli, "--prune belongs to plan --all and apply --all; refresh --all never destroys");
	if (!cli->auto_approve)
		return sf_cli_errorf(cli, "refresh --all runs unattended; review with `secfaas plan --all --refresh-only` and "
					  "re-run with --auto-approve");
	return run_all(cli, pa, 1);
}

/* Child process command line for one workspace. Owned array of borrowed or
 * owned strings (owned ones listed in *own). */
static char **child_argv(struct sf_cli *cli, struct sf_plan_args *pa, const struct wsrow *row, char **own, size_t *nown)
{
	char **a = xcalloc(32, sizeof *a);
	size_t k = 0;
	*nown = 0;
	a[k++] = own[(*nown)++] = xstrdup("/proc/self/exe");
	if (row->in_spec) {
		a[k++] = "apply";
		if (pa->spec)
			a[k++] = (char *)pa->spec;
		a[k++] = "--workspace";
		a[k++] = row->name;
		if (cli->repo) {
			a[k++] = "--repo";
			a[k++] = (char *)cli->repo;
		}
		if (cli->ref) {
			a[k++] = "--ref";
			a[k++] = (char *)cli->ref;
		}
		if (cli->allow_dirty)
			a[k++] = "--allow-dirty";
		if (pa->round) {
			a[k++] = "--round";
			a[k++] = (char *)pa->round;
		}
	} else {
		a[k++] = "destroy";
		a[k++] = "--state-only";
		a[k++] = "--workspace";
		a[k++] = row->name;
	}
	/* Another runner holding a workspace is not an error: it is theirs. */
	a[k++] = "--skip-locked";
	/* the backend URL goes by the environment (child_env): it may carry a
	 * password, and any local user can read a process's argv */
	if (cli->backend_schema) {
		a[k++] = "--backend-schema";
		a[k++] = (char *)cli->backend_schema;
	}
	a[k++] = "--auto-approve";
	a[k++] = "--input=false";
	a[k++] = own[(*nown)++] = xasprintf("--parallelism=%d", cli->parallelism);
	if (cli->region) {
		a[k++] = "--region";
		a[k++] = (char *)cli->region;
	}
	if (cli->profile) {
		a[k++] = "--profile";
		a[k++] = (char *)cli->profile;
	}
	if (cli->json)
		a[k++] = "--json";
	if (!cli->lock)
		a[k++] = "--lock=false";
	a[k] = NULL;
	return a;
}

/* One line of a child, prefixed with its workspace (JSON lines as they are). */
static void emit_line(struct sf_cli *cli, const struct wsrow *row, const char *s, size_t len)
{
	if (cli->json)
		fprintf(cli->out, "%.*s\n", (int)len, s);
	else
		fprintf(cli->out, "[%s%s] %.*s\n", row->name, row->in_spec ? "" : ", pruned", (int)len, s);
}

/* Read what the child wrote: keep it in the log, print its whole lines.
 * Returns 0 at end of output (the pipe is closed then), 1 otherwise. */
static int pump(struct sf_cli *cli, struct wsrow *row)
{
	char buf[8192];
	ssize_t r = read(row->out, buf, sizeof buf);
	if (r < 0 && errno == EINTR)
		return 1;
	if (r <= 0) {
		if (row->line.len)
			emit_line(cli, row, sf_buf_cstr(&row->line), row->line.len);
		sf_buf_release(&row->line);
		close(row->out);
		row->out = -1;
		fflush(cli->out);
		return 0;
	}
	for (ssize_t off = 0; off < r;) {
		ssize_t w = write(row->logfd, buf + off, (size_t)(r - off));
		if (w <= 0)
			break; /* the counts may be missing; the output is still shown */
		off += w;
	}
	sf_buf_append(&row->line, buf, (size_t)r);
	const char *s = sf_buf_cstr(&row->line), *nl;
	size_t used = 0;
	while ((nl = memchr(s + used, '\n', row->line.len - used))) {
		emit_line(cli, row, s + used, (size_t)(nl - (s + used)));
		used = (size_t)(nl - s) + 1;
	}
	if (used) {
		char *rest = xstrndup(s + used, row->line.len - used);
		sf_buf_release(&row->line);
		sf_buf_puts(&row->line, rest);
		free(rest);
	}
	fflush(cli->out);
	return 1;
}

/* The holder named in a child's "Skipped:" line (text or JSON). */
static char *skip_reason(const char *text)
{
	const char *p, *e;
	if ((p = strstr(text, "Skipped: workspace ")) && (e = strchr(p, '\n'))) {
		const char *by = strstr(p, " is being applied by ");
		if (by && by < e) {
			by += strlen(" is being applied by ");
			return xasprintf("held by %.*s", (int)(e - by - (e[-1] == '.')), by);
		}
		by = strstr(p, " was already applied in round ");
		if (by && by < e) {
			const char *who = strstr(by, " by ");
			if (who && who < e) {
				who += 4;
				return xasprintf("applied by %.*s", (int)(e - who - (e[-1] == '.')), who);
			}
		}
	}
	if ((p = strstr(text, "\"type\":\"workspace_skipped\""))) {
		const char *line = p;
		while (line > text && line[-1] != '\n')
			line--;
		e = strchr(p, '\n');
		char *one = xstrndup(line, e ? (size_t)(e - line) : strlen(line));
		json_t *j = json_loads(one, 0, NULL);
		free(one);
		const char *reason = json_string_value(json_object_get(j, "reason"));
		const char *who = json_string_value(json_object_get(j, "by"));
		char *r = xasprintf("%s by %s", reason && !strcmp(reason, "locked") ? "held" : "applied", who ? who : "?");
		if (reason && !strcmp(reason, "locked")) {
			char *r2 = xasprintf("%s (pid %lld)", r, (long long)json_integer_value(json_object_get(j, "pid")));
			free(r);
			r = r2;
		}
		json_decref(j);
		return r;
	}
	return NULL;
}

/* Read "Resources: N added, M changed, K destroyed" back from a child's log. */
static void scan_counts(struct wsrow *row)
{
	char *text = NULL;
	struct sf_err err = SF_ERR_INIT;
	if (sf_read_file(&text, NULL, row->log, 0, &err) < 0)
		return;
	row->skipped = skip_reason(text);
	const char *p;
	if ((p = strstr(text, "Destroy complete! Resources: ")))
		sscanf(p, "Destroy complete! Resources: %d destroyed", &row->destroy);
	else if ((p = strstr(text, "Resources: ")))
		sscanf(p, "Resources: %d added, %d changed, %d destroyed", &row->add, &row->change, &row->destroy);
	else if ((p = strstr(text, "\"type\":\"apply_summary\"")))
		sscanf(p, "\"type\":\"apply_summary\",\"added\":%d,\"changed\":%d,\"destroyed\":%d", &row->add, &row->change,
		       &row->destroy);
	free(text);
}

extern char **environ;

/* The children's environment: ours, with SECFAAS_BACKEND set to the
 * backend this run resolved (from --backend, the environment or
 * secfaas.yaml; the environment ranks below --backend only, which the
 * children are not given).  The caller frees the array and *own. */
static char **child_env(const struct sf_cli *cli, char **own)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **e = xcalloc(n + 2, sizeof *e);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "SECFAAS_BACKEND=", 16))
			e[k++] = environ[i];
	*own = cli->backend ? xasprintf("SECFAAS_BACKEND=%s", cli->backend) : NULL;
	if (*own)
		e[k++] = *own;
	e[k] = NULL;
	return e;
}

int sf_cmd_apply_all(struct sf_cli *cli, struct sf_plan_args *pa, char **argv0)
{
	(void)argv0;
	if (!cli->auto_approve)
		return sf_cli_errorf(cli, "apply --all runs unattended; review with `secfaas plan --all` and re-run with --auto-approve");
	struct wsrow *v;
	size_t n;
	int rc = collect(cli, pa, &v, &n, NULL);
	if (rc)
		return rc;
	int limit = pa->cluster_parallelism > 0 ? pa->cluster_parallelism : 2;
	size_t next = 0, running = 0, failed = 0;
	fflush(cli->out);
	fflush(cli->errf);
	for (;;) {
		while ((int)running < limit && next < n) {
			struct wsrow *row = &v[next++];
			if (!row->in_spec && !pa->prune)
				continue;
			row->out = row->logfd = -1;
			char tmpl[] = "/tmp/secfaas-all.XXXXXX";
			int fd = mkstemp(tmpl);
			if (fd < 0) {
				row->rc = 1;
				failed++;
				continue;
			}
			row->log = xstrdup(tmpl);
			int pfd[2];
			if (pipe(pfd) < 0) {
				close(fd);
				row->rc = 1;
				failed++;
				continue;
			}
			char *own[4];
			size_t nown;
			char **args = child_argv(cli, pa, row, own, &nown);
			char *benv = NULL;
			char **envp = child_env(cli, &benv);
			pid_t pid = fork();
			if (pid == 0) {
				dup2(pfd[1], 1);
				dup2(pfd[1], 2);
				close(pfd[0]);
				close(pfd[1]);
				close(fd);
				execve("/proc/self/exe", args, envp);
				_exit(127);
			}
			close(pfd[1]);
			for (size_t i = 0; i < nown; i++)
				free(own[i]);
			free(args);
			free(envp);
			free(benv);
			if (pid < 0) {
				close(pfd[0]);
				close(fd);
				row->rc = 1;
				failed++;
				continue;
			}
			fcntl(pfd[0], F_SETFD, FD_CLOEXEC);
			fcntl(fd, F_SETFD, FD_CLOEXEC);
			row->out = pfd[0];
			row->logfd = fd;
			row->pid = pid;
			running++;
		}
		if (!running)
			break;
		/* every running child's output, as it comes */
		struct pollfd *pf = xcalloc(n, sizeof *pf);
		size_t *who = xcalloc(n, sizeof *who), np = 0;
		for (size_t i = 0; i < n; i++)
			if (v[i].pid > 0 && v[i].out >= 0) {
				pf[np].fd = v[i].out;
				pf[np].events = POLLIN;
				who[np++] = i;
			}
		int pr = poll(pf, np, -1);
		for (size_t k = 0; pr > 0 && k < np; k++) {
			struct wsrow *row = &v[who[k]];
			if (!pf[k].revents || pump(cli, row))
				continue;
			/* end of its output: the child is done (or about to be) */
			int status = 0;
			while (waitpid(row->pid, &status, 0) < 0 && errno == EINTR)
				;
			row->rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
			row->pid = 0;
			close(row->logfd);
			row->logfd = -1;
			if (row->rc)
				failed++;
			scan_counts(row);
			running--;
		}
		free(pf);
		free(who);
		if (pr < 0 && errno != EINTR)
			break;
	}
	summary(cli, v, n, ALL_APPLY, pa->prune);
	rows_free(v, n);
	return failed ? SF_EXIT_ERROR : SF_EXIT_OK;
}

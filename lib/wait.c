/* wait.c - see wait.h. */
#include "wait.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

int sf_wait_run(const struct sf_wait_loop *w, sf_wait_poll_fn poll, void *ctx, struct sf_wait_result *res,
		struct sf_err *err)
{
	const struct sf_clock *clk = w->clock ? w->clock : sf_clock_monotonic();
	const char *name = w->name ? w->name : "the wait";
	struct sf_wait_result local;
	if (!res)
		res = &local;
	memset(res, 0, sizeof *res);
	if (w->max_attempts <= 0 && w->timeout_s <= 0) /* never wait without an end */
		return sf_fail(err, SF_EINVAL, "%s: a wait needs a deadline or a number of polls", name);
	double start = clk->now(clk->ctx);
	if (w->first_delay_s > 0) {
		double d = w->timeout_s > 0 && w->first_delay_s > w->timeout_s ? w->timeout_s : w->first_delay_s;
		if (sf_clock_nap(clk, d, w->cancel) < 0)
			return sf_fail(err, SF_EINTR, "waiting for %s interrupted", name);
	}
	for (;;) {
		if (w->cancel && *w->cancel)
			return sf_fail(err, SF_EINTR, "waiting for %s interrupted", name);
		char st[sizeof res->status] = "";
		int r = poll(ctx, st, sizeof st, err);
		res->attempts++;
		res->elapsed_s = clk->now(clk->ctx) - start;
		if (st[0])
			snprintf(res->status, sizeof res->status, "%s", st);
		if (r < 0)
			return r;
		if (w->progress)
			w->progress(w->progress_ctx, res->status, res->attempts, res->elapsed_s);
		if (r == SF_WAIT_DONE)
			return 0;
		double d = w->delay ? w->delay(w->delay_ctx, res->attempts, res->elapsed_s) : w->delay_s;
		res->delay_s = d > 0 ? d : 0;
		if ((w->max_attempts > 0 && res->attempts >= w->max_attempts) ||
		    (w->timeout_s > 0 && res->elapsed_s + res->delay_s > w->timeout_s)) {
			char dur[32];
			sf_fail(err, SF_ETIMEOUT, "%s: still %s after %s (%d polls)", name,
				res->status[0] ? res->status : "unknown", sf_duration_fmt(dur, sizeof dur, res->elapsed_s),
				res->attempts);
			sf_err_hint(err, "the resource may still converge; rerun later or raise the timeout");
			return SF_ETIMEOUT;
		}
		if (sf_clock_nap(clk, res->delay_s, w->cancel) < 0)
			return sf_fail(err, SF_EINTR, "waiting for %s interrupted", name);
	}
}

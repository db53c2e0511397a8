/*
 * test_wait.c - the shared wait loop (lib/wait.c) on a fake clock: success
 * after pending polls with a progress report per poll, a poll's failure
 * ending the wait as it was worded, the deadline and the poll budget, the
 * cancel flag before the first poll and during a pause, and the delay
 * strategy hook seeing the attempt and the elapsed time.  Then the AWS
 * waiter rows (aws/waiter.c) through the replay transport: acceptors,
 * templates, a reply without the object.
 */
#include <string.h>

#include "aws/waiter.h"
#include "t.h"
#include "tests/aws/fixture.h"
#include "wait.h"

/* A poll that answers from a script: 'p' pending, 'd' done, 'f' failure. */
struct script {
	const char *steps;
	int n;
	volatile int *cancel_at_2; /* raised by the second poll */
};

static int scripted(void *ctx, char *status, size_t n, struct sf_err *err)
{
	struct script *s = ctx;
	char c = s->steps[s->n < (int)strlen(s->steps) ? s->n : (int)strlen(s->steps) - 1];
	s->n++;
	if (s->n == 2 && s->cancel_at_2)
		*s->cancel_at_2 = 1;
	snprintf(status, n, "step-%d", s->n);
	if (c == 'f')
		return sf_fail(err, SF_ERROR, "thing is FAILED");
	return c == 'd' ? SF_WAIT_DONE : SF_WAIT_PENDING;
}

struct seen {
	int calls;
	char last[64];
	double elapsed;
};

static void on_progress(void *ctx, const char *status, int attempt, double elapsed_s)
{
	struct seen *s = ctx;
	s->calls = attempt;
	s->elapsed = elapsed_s;
	snprintf(s->last, sizeof s->last, "%s", status);
}

/* A loop on a fake clock polling every 10 s for at most 60 s. */
struct rig {
	struct fx_clock fc;
	struct sf_clock clk;
	struct seen seen;
	struct sf_wait_loop w;
};

static void rig_init(struct rig *r)
{
	memset(r, 0, sizeof *r);
	r->fc = (struct fx_clock){FX_T0, 0, 0, 0.5};
	r->clk = (struct sf_clock){fx_now, fx_sleep, fx_rand, &r->fc};
	r->w = (struct sf_wait_loop){.name = "test.Thing", .delay_s = 10, .timeout_s = 60, .clock = &r->clk,
				     .progress = on_progress, .progress_ctx = &r->seen};
}

T_TEST(done_after_pending_polls_with_progress)
{
	struct rig r;
	rig_init(&r);
	struct script s = {"ppd", 0, NULL};
	struct sf_wait_result res;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_wait_run(&r.w, scripted, &s, &res, &e), 0);
	T_EQ(res.attempts, 3);
	T_EQ(r.seen.calls, 3);             /* every poll reported, the last one too */
	T_STREQ(r.seen.last, "step-3");
	T_OK(r.fc.slept > 19.99 && r.fc.slept < 20.01); /* two pauses of 10 s, none after success */
	T_OK(r.seen.elapsed > 19.99 && r.seen.elapsed < 20.01);
	/* a wait that begins with the transition pauses before its first poll */
	rig_init(&r);
	r.w.first_delay_s = 25;
	struct script s2 = {"d", 0, NULL};
	T_EQ(sf_wait_run(&r.w, scripted, &s2, &res, &e), 0);
	T_EQ(res.attempts, 1);
	T_OK(r.fc.slept > 24.99 && r.fc.slept < 25.01);
	T_OK(r.seen.elapsed > 24.99 && r.seen.elapsed < 25.01);
	T_EQ(e.code, 0);
}

T_TEST(failure_ends_the_wait_as_the_poll_worded_it)
{
	struct rig r;
	rig_init(&r);
	struct script s = {"pf", 0, NULL};
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_wait_run(&r.w, scripted, &s, NULL, &e), SF_ERROR);
	T_STREQ(e.msg, "thing is FAILED");
	T_EQ(s.n, 2);
	T_EQ(r.seen.calls, 1); /* the failing poll reports nothing */
}

T_TEST(deadline_and_poll_budget)
{
	struct rig r;
	rig_init(&r);
	struct script s = {"p", 0, NULL};
	struct sf_wait_result res;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_wait_run(&r.w, scripted, &s, &res, &e), SF_ETIMEOUT);
	/* polls at 0, 10 ... 60; the next would be past the deadline */
	T_EQ(res.attempts, 7);
	T_OK(r.fc.slept < 60.01);
	T_STREQ(e.msg, "test.Thing: still step-7 after 1m0s (7 polls)");
	T_CONTAINS(e.hint, "rerun later");

	r.fc = (struct fx_clock){FX_T0, 0, 0, 0.5};
	s.n = 0;
	r.w.timeout_s = 0;
	r.w.max_attempts = 3;
	T_EQ(sf_wait_run(&r.w, scripted, &s, &res, &e), SF_ETIMEOUT);
	T_EQ(res.attempts, 3);
	T_EQ(s.n, 3);

	r.w.max_attempts = 0; /* neither: refused, nothing polled */
	s.n = 0;
	T_EQ(sf_wait_run(&r.w, scripted, &s, &res, &e), SF_EINVAL);
	T_EQ(s.n, 0);
}

T_TEST(cancel_before_the_first_poll_and_while_pausing)
{
	struct rig r;
	rig_init(&r);
	volatile int cancel = 1;
	r.w.cancel = &cancel;
	struct script s = {"p", 0, NULL};
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_wait_run(&r.w, scripted, &s, NULL, &e), SF_EINTR);
	T_EQ(s.n, 0);
	T_STREQ(e.msg, "waiting for test.Thing interrupted");

	/* raised by the second poll: the pause after it ends at once */
	cancel = 0;
	s = (struct script){"p", 0, &cancel};
	T_EQ(sf_wait_run(&r.w, scripted, &s, NULL, &e), SF_EINTR);
	T_EQ(s.n, 2);
	T_OK(r.fc.slept > 9.99 && r.fc.slept < 10.01); /* only the first pause was slept */
}

/* A strategy: short pauses near the end of a typical 45 s transition. */
struct strategy {
	int calls, last_attempt;
	double last_elapsed;
};

static double near_the_end(void *ctx, int attempt, double elapsed_s)
{
	struct strategy *st = ctx;
	st->calls++;
	st->last_attempt = attempt;
	st->last_elapsed = elapsed_s;
	return elapsed_s >= 30 ? 5 : 15;
}

T_TEST(delay_strategy_sees_attempt_and_elapsed)
{
	struct rig r;
	rig_init(&r);
	struct strategy st = {0, 0, 0};
	r.w.delay = near_the_end;
	r.w.delay_ctx = &st;
	struct script s = {"ppppd", 0, NULL};
	T_EQ(sf_wait_run(&r.w, scripted, &s, NULL, NULL), 0);
	/* polls at 0, 15, 30, 35, 40 */
	T_EQ(st.calls, 4);
	T_EQ(st.last_attempt, 4);
	T_OK(st.last_elapsed > 34.99 && st.last_elapsed < 35.01);
	T_OK(r.fc.slept > 39.99 && r.fc.slept < 40.01);
}

/* ---- AWS waiter rows over the replay ---- */

#define EC2_VPCS(items)                                                                                            \
	"HTTP/1.1 200 OK\nContent-Type: text/xml\n\n<DescribeVpcsResponse xmlns=\"http://ec2.amazonaws.com/doc/"       \
	"2016-11-15/\"><requestId>r</requestId><vpcSet>" items "</vpcSet></DescribeVpcsResponse>"

static const struct sf_waiter_def vpc_row = {
	.name = "test.VpcAvailable", .service = "ec2", .operation = "DescribeVpcs", .status_path = "vpcSet[].state",
	.delay_s = 2, .success = {"available"}, .failure = {"broken"}, .empty_is_notfound = 1,
	.failure_msg = "vpc {VpcId} is {status}", .notfound_msg = "{VpcId} not found",
};

T_TEST(waiter_rows_acceptors_and_templates)
{
	struct fx f;
	fx_clean_env();
	setenv("AWS_ACCESS_KEY_ID", FX_AKID, 1);
	setenv("AWS_SECRET_ACCESS_KEY", FX_SECRET, 1);
	T_EQ(fx_open(&f, NULL), 0);
	sf_replay_add(f.rp, "VpcId.1=vpc-1", EC2_VPCS("<item><vpcId>vpc-1</vpcId><state>pending</state></item>"), 1);
	sf_replay_add(f.rp, "VpcId.1=vpc-1", EC2_VPCS("<item><vpcId>vpc-1</vpcId><state>available</state></item>"), 1);
	sf_replay_add(f.rp, "VpcId.1=vpc-2", EC2_VPCS("<item><vpcId>vpc-2</vpcId><state>broken</state></item>"), 1);
	sf_replay_add(f.rp, "VpcId.1=vpc-3", EC2_VPCS(""), 1);
	json_t *a1 = json_pack("{s:[s]}", "VpcId", "vpc-1"), *a2 = json_pack("{s:[s]}", "VpcId", "vpc-2"),
	       *a3 = json_pack("{s:[s]}", "VpcId", "vpc-3");
	char st[64];
	int verdict = -1;
	struct sf_err e = SF_ERR_INIT;
	T_EQ(sf_aws_waiter_poll(f.c, &vpc_row, a1, &verdict, st, sizeof st, NULL, &e), 0);
	T_EQ(verdict, SF_WAITER_PENDING);
	T_STREQ(st, "pending");
	T_EQ(sf_aws_waiter_poll(f.c, &vpc_row, a1, &verdict, st, sizeof st, NULL, &e), 0);
	T_EQ(verdict, SF_WAITER_SUCCESS);
	T_EQ(sf_aws_waiter_poll(f.c, &vpc_row, a2, &verdict, st, sizeof st, NULL, &e), 0);
	T_EQ(verdict, SF_WAITER_FAILURE);
	T_EQ(e.code, SF_ERROR);
	T_STREQ(e.msg, "vpc vpc-2 is broken");
	T_EQ(sf_aws_waiter_poll(f.c, &vpc_row, a3, &verdict, st, sizeof st, NULL, &e), 0);
	T_EQ(verdict, SF_WAITER_FAILURE);
	T_EQ(e.code, SF_ENOTFOUND);
	T_STREQ(e.msg, "vpc-3 not found");
	T_EQ(sf_replay_unmatched(f.rp), 0);
	/* rest-json: labels and the query are filled from the arguments and encoded */
	sf_replay_add(f.rp, "GET https://eks.eu-west-1.amazonaws.com/clusters/my%20c/updates/u-1?nodegroupName=ng%2F1\n",
		      "HTTP/1.1 200 OK\nContent-Type: application/json\n\n{\"update\":{\"status\":\"Failed\","
		      "\"errors\":[{\"errorCode\":\"NodeCreationFailure\"}]}}",
		      1);
	json_t *ua = json_pack("{s:s, s:s, s:s}", "name", "my c", "updateId", "u-1", "nodegroupName", "ng/1");
	T_EQ(sf_aws_waiter_poll(f.c, sf_aws_waiter_find("eks.NodegroupUpdateSuccessful"), ua, &verdict, st, sizeof st,
				NULL, &e),
	     0);
	T_EQ(verdict, SF_WAITER_FAILURE);
	T_STREQ(e.msg, "node group update Failed: [{\"errorCode\":\"NodeCreationFailure\"}]");
	T_EQ(sf_replay_unmatched(f.rp), 0);
	json_decref(ua);
	json_decref(a1);
	json_decref(a2);
	json_decref(a3);
	fx_close(&f);
}

/* Polls placed by sf_waiter_pause for an end at d (official seconds): the
 * polls made and how long after d the last one came. */
static int polls_until(const struct sf_waiter_def *def, double lo, double hi, double d, double *lag)
{
	double t = 0;
	for (int n = 1;; n++) {
		if (t >= d) {
			*lag = t - d;
			return n;
		}
		t += sf_waiter_pause(def, lo, hi, t);
	}
}

/* The pause that lands a wait on its window's start, whenever the wait
 * began (a call's latency makes that a fraction of a second), puts the
 * poll inside the window, so a grid takes it there and the next poll is
 * a step later, not up to a step and a half. */
T_TEST(the_poll_landing_on_the_window_start_is_in_the_window)
{
	const struct sf_waiter_def *def = sf_aws_waiter_find("eks.ClusterActive");
	T_OK(def != NULL);
	int in = 0, n = 0;
	for (int i = 0; i < 2000; i++) {
		double e = 0.0001 * i + 0.37 * (i % 7), lo = 95 + 0.013 * i, hi = lo + 55;
		double at = e + sf_waiter_pause(def, lo, hi, e);
		if (e + 300 < lo)
			continue; /* more than one pause before lo */
		n++;
		in += sf_waiter_in_window(at, lo, hi);
	}
	T_OK(n > 1000);
	T_EQ(in, n);
	T_OK(!sf_waiter_in_window(94.9, 95, 150));
	T_OK(!sf_waiter_in_window(150, 95, 150));
	T_OK(!sf_waiter_in_window(100, 0, 0));
}

T_TEST(pauses_gather_polls_near_the_usual_end)
{
	const struct sf_waiter_def *def = sf_aws_waiter_find("eks.ClusterActive");
	T_OK(def && def->typical_lo > 0 && def->typical_hi > def->typical_lo);
	/* before the window: no more than 5 minutes apart, evenly, the last
	 * pause landing on lo: a wait that begins with the create polls at
	 * 240 and 480 s, not every minute of the eight where nothing happens */
	T_OK(sf_waiter_pause(def, 480, 720, 0) == 240);
	T_OK(sf_waiter_pause(def, 480, 720, 240) == 240);
	T_OK(sf_waiter_pause(def, 480, 720, 450) == 30);
	T_OK(sf_waiter_pause(def, 100, 200, 0) == 100); /* short: straight to lo */
	T_OK(sf_waiter_pause(def, 300, 400, 0) == 300);
	T_OK(sf_waiter_pause(def, 900, 1000, 0) == 300);
	T_OK(sf_waiter_pause(def, 100, 200, 99.5) == 1); /* never under 1 s */
	/* in it: every 10 s; past it, or with no figure: the official 30 s */
	T_OK(sf_waiter_pause(def, 480, 720, 480) == 10);
	T_OK(sf_waiter_pause(def, 480, 720, 719) == 10);
	T_OK(sf_waiter_pause(def, 480, 720, 720) == 30);
	T_OK(sf_waiter_pause(def, 0, 0, 500) == 30);
	/* a 10 s row (add-ons) polls every 5 s near its end, not faster */
	const struct sf_waiter_def *addon = sf_aws_waiter_find("eks.AddonActive");
	T_OK(addon && sf_waiter_pause(addon, addon->typical_lo, addon->typical_hi, addon->typical_lo) == 5);
	/* AWS's +-15 % around 600 s: the wait ends at most 10 s after the
	 * cluster is ACTIVE (the official cadence: up to 30 s), and makes
	 * fewer calls than the official cadence (ceil(d / 30), plus the poll
	 * right after the call) */
	int extra = 0, n = 0;
	for (double d = 510; d <= 690; d += 7.3, n++) {
		double lag = 0, lag0 = 0;
		int k = polls_until(def, def->typical_lo, def->typical_hi, d, &lag);
		int k0 = polls_until(def, 0, 0, d, &lag0);
		if (lag > 10.0 + 1e-9)
			T_FAILF("end at %.1f s: found %.1f s late", d, lag);
		extra += k - k0;
	}
	if (extra > -4 * n)
		T_FAILF("%d polls against the official cadence over %d waits: not 4 fewer each", extra, n);
	/* the workspace's own history narrows it: an end at 400 s is found
	 * within 10 s when history says 380..420 */
	double lag = 0;
	polls_until(def, 380, 420, 400, &lag);
	T_OK(lag <= 10.0);
}

T_MAIN()

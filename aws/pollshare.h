/*
 * pollshare.h - waits of one EC2 Describe action that poll at the same
 * moment share one call.
 *
 * Why: EC2's Describe* actions take many ids at once, and the waits of a
 * run often poll the same action side by side: two AMI bakes each poll
 * DescribeInstances for their builder, three subnets each read back
 * MapPublicIpOnLaunch with DescribeSubnets.  Each wait in its own loop
 * costs one call per wait per poll.  Here a poll of a waiter row whose
 * arguments are one id list ({"InstanceId":["i-1"]}, ImageId, SubnetId,
 * NatGatewayId, VpcEndpointId) gathers with the polls of the same client
 * (region and profile) and operation that arrive while it gathers, and
 * the gathered polls make one call: a Describe whose filter
 * (`Filter.1.Name=instance-id`) names the union of their ids.  The filter
 * form, not the by-id list, because the by-id list fails the whole call
 * when one id is unknown (InvalidInstanceID.NotFound right after
 * RunInstances, eventual consistency), where the filter leaves that id
 * out (resources/aws_batch.h says the same of a refresh's reads).
 *
 * Each member then judges only its own part (sf_aws_waiter_judge): the
 * answer cut down to its own item(s), or, when one of its ids is absent,
 * the NotFound error EC2 gives the by-id call for it (same code and
 * message), so its acceptors (success, failure, notfound_retry,
 * empty_is_notfound) decide exactly as on a call of its own.  A failed
 * call (throttling after the client's retries, the network) fails every
 * member with that call's error.  A gather that ends with one member
 * makes that member's own by-id call, unchanged.
 *
 * Timing: polls meet only when they come together, and a poll alone must
 * not wait for company that is not coming.  So a wait says that it may
 * poll (sf_pollshare_expect) and, ahead, when its next poll is due (the
 * resource waits of resources/aws_common.c put their polls near a
 * transition's usual end on a grid shared by every wait, so two bakes
 * started apart poll at the same instants).  A gather closes as soon as no
 * other wait of its client and action is poised to poll: at once for a
 * poll alone; when the waits said ahead for about this instant have
 * joined (at most SF_POLLSHARE_MAX_S); SF_POLLSHARE_MIN_S after its last
 * member when the others poised could poll at any moment (begun, or woken
 * from a sleep, they said no time).  A few milliseconds at most, against
 * polls seconds apart.
 *
 * A read-back polls at once after the calls whose effect it reads (a
 * subnet's CreateSubnet and ModifySubnetAttribute, then DescribeSubnets
 * until readers see the attribute), so read-backs begun side by side poll
 * as far apart as their calls end, often more than SF_POLLSHARE_MAX_S.
 * Such a wait says so before its calls (sf_pollshare_expect_after), and a
 * gather waits for it while they are in flight: until it joins, or for as
 * long as the leader's own calls took since it said so (calls begun
 * together end about that far apart; ones held up longer, by retries, are
 * not waited for), at least SF_POLLSHARE_MAX_S and at most
 * SF_POLLSHARE_AFTER_MAX_S.  Nothing is waited for when no such calls are
 * in flight: a read-back alone polls at once, as before.
 *
 * Calling steps:
 *   sf_pollshare_expect(me, c, def, 0);      (I may poll at any moment)
 *   sf_pollshare_expect(me, c, def, due);    (my next poll is at due, sf_mono() seconds)
 *   sf_pollshare_expect_after(me, c, def);   (I poll as soon as calls I make now return)
 *   ... sleep until due, or make those calls ...
 *   sf_pollshare_poll(me, c, def, args, &verdict, status, n, &doc, err);
 *   sf_pollshare_leave(me);                  (the wait is over)
 *
 * Thread safety: every function may be called from many threads at once
 * (that is the point); one process-wide lock guards the gathers.
 * Ownership: arguments are borrowed; *doc as sf_aws_waiter_poll.
 */
#ifndef SF_AWS_POLLSHARE_H
#define SF_AWS_POLLSHARE_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

struct sf_aws;
struct sf_waiter_def;

/* How long a gather stays open (seconds, above). */
#define SF_POLLSHARE_MIN_S 0.005
#define SF_POLLSHARE_MAX_S 0.015
#define SF_POLLSHARE_AFTER_MAX_S 0.25

/* 1 when polls of def with args can share calls (an EC2 row whose args are
 * one id list of an action this module knows), else 0. */
int sf_pollshare_can(const struct sf_waiter_def *def, const json_t *args);

/* who (any address unique to the wait while it runs) may poll def on
 * client c: at `due` (sf_mono() seconds), or at any moment (due 0).  Said
 * again, it replaces what who said before.  Rows that cannot share are
 * ignored. */
void sf_pollshare_expect(const void *who, struct sf_aws *c, const struct sf_waiter_def *def, double due);
/* who polls def on client c as soon as calls it makes now return (a
 * read-back of their effect): until then a gather of def's action waits
 * for it (above).  Said before the calls (said again, it keeps the first
 * instant); ends with who's next poll, a sf_pollshare_expect with a due,
 * or sf_pollshare_leave (a call failed).  A sf_pollshare_expect with due
 * 0 keeps it (the wait begins). */
void sf_pollshare_expect_after(const void *who, struct sf_aws *c, const struct sf_waiter_def *def);
/* who's wait is over: it polls no more.  Safe to repeat. */
void sf_pollshare_leave(const void *who);

/* One poll of def, as sf_aws_waiter_poll (same returns, same errors),
 * sharing the call with the polls of the same client and operation that
 * gather with it.  who: as given to sf_pollshare_expect, or NULL for a
 * poll that said nothing ahead. */
int sf_pollshare_poll(const void *who, struct sf_aws *c, const struct sf_waiter_def *def, const json_t *args,
		      int *verdict, char *status, size_t n, json_t **doc, struct sf_err *err);

/* Tests: how long a gather waits for expected polls at most (seconds);
 * 0 restores SF_POLLSHARE_MAX_S.  A slow host (valgrind) needs more than a
 * few milliseconds between two threads. */
void sf_pollshare_set_max(double max_s);

/* Calls made for gathers of two or more polls since the process started
 * (tests, debug logs). */
unsigned long sf_pollshare_shared_calls(void);
/* Tests: polls now in gathers still open (waiting for company). */
int sf_pollshare_gathering(void);

#endif

/* internal.h - the client struct, shared by the kube/ sources only. */
#ifndef SF_KUBE_INTERNAL_H
#define SF_KUBE_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <strings.h>

#include "backoff.h"
#include "kube/kube.h"

struct sf_kube_disc {
	char *gv, *kind, *plural;
	int namespaced;
};

struct sf_kube {
	char *endpoint;
	char *ca_pem;
	size_t ca_len;
	char *cluster, *role_arn, *static_token;
	struct sf_kube_token_source tokens; /* ctx borrowed */
	struct sf_http *http;     /* borrowed, or owned when own_http */
	int own_http;
	double timeout_s;
	struct sf_backoff backoff;
	const struct sf_clock *clock; /* borrowed */
	pthread_mutex_t mu;       /* token and discovery cache */
	int mu_init;
	char *token;
	double token_expires;
	struct sf_kube_disc *disc;
	size_t ndisc;
};

#endif

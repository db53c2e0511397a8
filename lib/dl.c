/* dl.c - see dl.h. */
#include "dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* One lock for every library: loading happens a handful of times per run. */
static pthread_mutex_t dl_mu = PTHREAD_MUTEX_INITIALIZER;

static int load(struct sf_dl *lib)
{
	/* RTLD_LOCAL: nothing else resolves against it by accident;
	 * RTLD_NOW: a missing function is found here, not at its first call */
	void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *why = dlerror();
		snprintf(lib->msg, sizeof lib->msg, "cannot load %s: %s", lib->soname, why ? why : "unknown error");
		return -1;
	}
	for (size_t i = 0; i < lib->n; i++) {
		dlerror();
		void *sym = dlsym(h, lib->names[i]);
		if (!sym) {
			snprintf(lib->msg, sizeof lib->msg, "%s has no function %s (a different version than secfaas was built with)",
				 lib->soname, lib->names[i]);
			/* the table stays unusable; the handle stays open (cheap, once) */
			return -1;
		}
		/* a data pointer to a function pointer: dlsym(3)'s documented way */
		memcpy(lib->slots[i], &sym, sizeof sym);
	}
	return 0;
}

int sf_dl_load(struct sf_dl *lib, struct sf_err *err)
{
	pthread_mutex_lock(&dl_mu);
	if (!lib->state)
		lib->state = load(lib) == 0 ? 1 : -1;
	int ok = lib->state == 1;
	char msg[sizeof lib->msg];
	memcpy(msg, lib->msg, sizeof msg);
	pthread_mutex_unlock(&dl_mu);
	if (ok)
		return 0;
	sf_fail(err, SF_ENOTFOUND, "%s", msg);
	sf_err_hint(err, "install Debian's %s package (apt-get install %s)", lib->package, lib->package);
	return SF_ENOTFOUND;
}

int sf_dl_loaded(struct sf_dl *lib)
{
	pthread_mutex_lock(&dl_mu);
	int ok = lib->state == 1;
	pthread_mutex_unlock(&dl_mu);
	return ok;
}

/*
 * dl.h - shared libraries loaded the first time a command needs them.
 *
 * Why: libcurl, libpq, libgit2 and libxml2 pull in about forty more
 * libraries (TLS stacks, Kerberos, LDAP, ICU, SSH).  Linked the ordinary way,
 * every run pays for mapping, relocating and initialising all of them before
 * main(), tens of milliseconds, although `version`, `validate`, `fmt` or a
 * plan of what is already recorded never touch the network, a PostgreSQL
 * server, a git repository or XML.  The one module that uses such a library
 * keeps a table of the functions it calls, filled from dlopen(3) at its entry
 * point, and names calls through it exactly as before:
 *
 *   #define CURL_FNS(X) X(curl_easy_init) X(curl_easy_cleanup)
 *   static struct { CURL_FNS(SF_DL_FIELD) } lc;      (typed from the header)
 *   static const char *const lc_names[] = {CURL_FNS(SF_DL_NAME)};
 *   #define LC_SLOT(f) SF_DL_SLOT(lc, f)
 *   static void *const lc_slots[] = {CURL_FNS(LC_SLOT)};
 *   static struct sf_dl lc_dl = SF_DL_INIT(SF_SONAME_CURL, "libcurl4", lc_names, lc_slots);
 *   #define curl_easy_init lc.curl_easy_init
 *   ...  if (sf_dl_load(&lc_dl, err) < 0) return ...;  then call as usual.
 *
 * The sonames come from the build (the Makefile reads them from the
 * libraries built against), so the loaded library is the one whose headers
 * typed the table.  Thread-safe; a library is opened once per process and
 * never closed.  A library that cannot be loaded is an error of the command
 * that needs it (which package to install), not of every command.
 */
#ifndef SF_DL_H
#define SF_DL_H

#include <stddef.h>

#include "err.h"

/* The build passes the sonames it found (Makefile); these are Debian 12's. */
#ifndef SF_SONAME_CURL
#define SF_SONAME_CURL "libcurl.so.4"
#endif
#ifndef SF_SONAME_PQ
#define SF_SONAME_PQ "libpq.so.5"
#endif
#ifndef SF_SONAME_XML2
#define SF_SONAME_XML2 "libxml2.so.2"
#endif
#ifndef SF_SONAME_GIT2
#define SF_SONAME_GIT2 "libgit2.so.1.5"
#endif

struct sf_dl {
	const char *soname;        /* "libcurl.so.4" */
	const char *package;       /* the Debian package that ships it, for the hint */
	const char *const *names;  /* function names ... */
	void *const *slots;        /* ... and where each goes: the address of a function pointer */
	size_t n;
	int state;                 /* 0 not tried, 1 loaded, -1 failed (msg says why); under the module's mutex */
	char msg[256];
};

#define SF_DL_FIELD(f) __typeof__(f) *f;
#define SF_DL_NAME(f) #f,
#define SF_DL_SLOT(table, f) (void *)&(table).f,
#define SF_DL_INIT(soname, package, names, slots) \
	{(soname), (package), (names), (slots), sizeof(names) / sizeof((names)[0]), 0, {0}}

/* Load lib (first call) and fill every slot.  0, or SF_ENOTFOUND with one
 * line naming the library, the missing piece and the package to install;
 * a later call repeats that error without trying again. */
int sf_dl_load(struct sf_dl *lib, struct sf_err *err);

/* 1 when lib was loaded by an earlier sf_dl_load (so its functions may be
 * called, e.g. to clean up at exit); 0 otherwise. */
int sf_dl_loaded(struct sf_dl *lib);

#endif

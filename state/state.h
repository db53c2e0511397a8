/*
 * state.h - the state store: resources, operations journal, run history and
 * snapshots, locks, encrypted sensitive attributes, fleet claims.
 *
 * Where state lives (the "target" given to sf_state_open):
 *   - a file path: one workspace in one SQLite file (the default).  One
 *     file, transactions, WAL for concurrent readers, and crash safety we
 *     would otherwise hand-roll;
 *   - a postgres:// or postgresql:// URL: many workspaces (opts.workspace
 *     names one) in a set of tables in one PostgreSQL schema (opts.schema,
 *     "secfaas" by default, so teams can share a server).  For runners that
 *     share state: the lock is a session advisory lock that dies with its
 *     holder's connection.
 * Both behave the same through this API (state/backend.h says how).  Every
 * transition the apply engine makes is its own transaction, so a run killed
 * at any instant leaves consistent state that the next `apply` resumes from.
 *
 * Identity: `lineage` (UUID set once at creation) and `serial` (+1 for every
 * committed write transaction).  Saved plans record both; apply refuses a
 * plan whose lineage/serial no longer match.  Writes compare the serial
 * they last saw (at open, at lock acquisition, or their own last commit)
 * with the stored one and fail with SF_ESTALE when another writer got in
 * between, so two writers never interleave, even without the lock.
 *
 * Calling steps:
 *   1. sf_state_open(&st, target, &opts, &err)    creates (opts.create), migrates
 *   2. sf_lock_acquire(st, "apply", timeout, &holder, id, &err) before writing
 *   3. sf_state_backup(st, &err) before a mutating command
 *   4. sf_state_begin / sf_state_put / sf_journal_* / sf_state_commit
 *   5. sf_lock_release(st, id, &err); sf_state_close(st)
 *
 * Threads: a handle may be shared by threads; every public function takes
 * the handle's (recursive) mutex, and begin..commit holds it, so keep
 * transactions short and never wait on the network inside one.
 *
 * Ownership: struct sf_resource and everything in it is owned by the caller
 * of the function that returned it; free with sf_resource_free() or
 * sf_resource_list_free().  json_t members hold one reference each.
 * Strings passed in are borrowed (copied when stored).
 */
#ifndef SF_STATE_H
#define SF_STATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct sf_state;

/* Envelope encryption of the state key by a key service (AWS KMS's
 * GenerateDataKey / Decrypt): the state stores only the wrapped data key.
 * The callbacks live above state/ (the state layer calls no cloud API);
 * both fill key[32] and return 0, or a negative code with err set.
 * generate: *wrapped is an owned base64 string to store. */
struct sf_key_provider {
	const char *key_id; /* e.g. a KMS key ARN or alias; shown in messages */
	int (*generate)(void *ctx, unsigned char key[32], char **wrapped, struct sf_err *err);
	int (*decrypt)(void *ctx, const char *wrapped, unsigned char key[32], struct sf_err *err);
	void *ctx;
};

#define SF_STATE_DEFAULT_SCHEMA "secfaas"

struct sf_state_opts {
	int create;              /* create the file / workspace (and schema) if missing */
	int readonly;            /* open read-only: no migrations, no writes */
	double busy_timeout_s;   /* SQLite busy timeout, PostgreSQL connect timeout; 0 = 5 s */
	const char *workspace;   /* PostgreSQL: which workspace (required there) */
	const char *schema;      /* PostgreSQL: schema of the tables; NULL = SF_STATE_DEFAULT_SCHEMA */
	/* Encryption key sources, first non-NULL wins; all NULL = look at
	 * SECFAAS_STATE_PASSPHRASE, SECFAAS_STATE_KEY_FILE, then (files only)
	 * "<path>.key", created 0600 with a random key the first time a secret
	 * is written.  A state whose secrets were sealed under a key provider
	 * needs that provider to read them. */
	const char *passphrase;  /* >= 16 chars; PBKDF2-SHA512, 600000 iterations, salt in meta */
	const char *key_file;    /* 32 raw bytes or 64 hex chars */
	const struct sf_key_provider *key_provider; /* borrowed; must outlive the handle */
	/* Use the key source the state's secrets were sealed with (recorded at
	 * the first secret) rather than the first one given: the read side of
	 * a copy, whose destination wants another key (a key-file state copied
	 * to a shared state sealed with a passphrase). */
	int key_from_state;
};

/* While on, the connection of a PostgreSQL state is kept when the state
 * is closed, and a later open of the same database and schema in the same
 * mode (read-only or not) takes it instead of connecting.  A connection
 * that held the workspace's lock is kept only once the lock is released,
 * one in a transaction or broken never.  A fleet's plans and refreshes open
 * hundreds of workspaces of one database a few at a time, and each
 * connection costs the server a backend and, across a network, several
 * round trips (TLS, authentication).  Turning it off ends every kept
 * connection.  State files are unaffected.  Thread-safe. */
void sf_state_reuse_connections(int on);

/* 1 if target names a PostgreSQL database (postgres:// or postgresql://). */
int sf_state_target_is_url(const char *target);
/* The workspaces stored at target: for a URL, every workspace in the
 * schema (opts->schema); for a directory, the NAME of each NAME.db in it.
 * Sorted; owned array of owned strings (free each and the array).  A
 * missing directory or schema is an empty list. */
int sf_state_workspaces(const char *target, const struct sf_state_opts *opts, char ***names, size_t *n,
			struct sf_err *err);

enum sf_rstatus {
	SF_RS_CREATING = 0, /* intent written, create may or may not have happened */
	SF_RS_CREATED = 1,  /* exists and matches `attrs` as of last write */
	SF_RS_TAINTED = 2,  /* create failed half-way; next plan replaces it */
	SF_RS_DELETING = 3, /* delete intent written */
	SF_RS_LEAKED = 4,   /* delete gave up; object may still exist remotely */
};
const char *sf_rstatus_name(enum sf_rstatus s);   /* "creating", ... */
int sf_rstatus_parse(const char *s, enum sf_rstatus *out);

struct sf_resource {
	char *address;        /* "local_file.a", unique key */
	char *type;           /* "local_file" */
	char *id;             /* provider id; NULL until known */
	enum sf_rstatus status;
	json_t *attrs;        /* object of attributes; sensitive ones decrypted */
	json_t *sensitive;    /* array of attribute names stored encrypted; may be NULL */
	json_t *deps;         /* array of addresses this resource depends on; may be NULL */
	char *token;          /* idempotency token of the current create; may be NULL */
	int schema_version;   /* of the resource type that wrote attrs */
	double updated_at;    /* unix seconds */
};
void sf_resource_free(struct sf_resource *r);
void sf_resource_list_free(struct sf_resource **v, size_t n);

/* Errors: SF_ENOTFOUND no file or workspace (and !create); SF_ECORRUPT
 * not SQLite, a foreign SQLite file, damaged/truncated, newer schema, or
 * (readonly) an older schema needing an upgrade - such files are never
 * modified; SF_EIO unwritable directory/file, database unreachable;
 * SF_EINVAL passphrase < 16 chars, bad workspace or schema name.
 * The file and "<path>.key"/"<path>.backup" are created 0600. */
int sf_state_open(struct sf_state **out, const char *target, const struct sf_state_opts *opts,
		  struct sf_err *err);
/* NULL ok.  Closing the handle ends its database session, which also
 * releases a PostgreSQL lock still held (a file lock row stays until
 * released or reclaimed). */
void sf_state_close(struct sf_state *st);
/* Where the state is, for messages: the file path, or "postgresql://USER@HOST/DB
 * schema S workspace W" (never a password).  Borrowed. */
const char *sf_state_path(const struct sf_state *st);
const char *sf_state_backend(const struct sf_state *st); /* "sqlite" or "postgres" */
const char *sf_state_workspace(const struct sf_state *st); /* NULL for a file */
/* lineage: read once per handle (it is fixed when the workspace is made;
 * only a copy into this handle's workspace replaces it, and sets it here
 * too); borrowed, valid until st is closed; NULL on a read error.  serial:
 * re-read every call (another process may have written); -1 on a read
 * error. */
const char *sf_state_lineage(struct sf_state *st);
int64_t sf_state_serial(struct sf_state *st);
/* The serial as of the open, the lock or this handle's last commit, with no
 * read: what a plan records.  Taken before the plan reads the resources, a
 * saved plan made while another run commits can only be refused as stale
 * when it need not be, never applied over a newer state. */
int64_t sf_state_serial_seen(struct sf_state *st);
int sf_state_schema_version(void); /* newest schema this build writes */
/* 1 once this handle can no longer write state content: the lock it took
 * was removed or taken over (force-unlock --force, a stolen lock row), as
 * seen by a heartbeat or a commit; its database connection is gone
 * (nothing is retried on a new one: the lock went with it); or another
 * writer committed since it last saw the state (SF_ESTALE).  Whoever drives
 * a run stops starting work that would have to record itself. */
int sf_state_broken(const struct sf_state *st);

/* Files: VACUUM INTO "<path>.backup" (replacing an older backup).
 * PostgreSQL: a snapshot of the current content in the run history
 * (restorable with sf_state_restore).  sf_state_backup_where() then
 * describes it ("<path>.backup", "snapshot at serial N"); borrowed, "" before. */
int sf_state_backup(struct sf_state *st, struct sf_err *err);
const char *sf_state_backup_where(const struct sf_state *st);

/* Explicit transaction (BEGIN IMMEDIATE). Calls below made outside one run
 * in their own implicit transaction. Commit bumps serial by one if anything
 * was written. Not nestable.
 *
 * What counts as "written" (bumps the serial): resources (put, remove,
 * rename, restore), journal rows and meta_set.  Bookkeeping does not: locks,
 * run history, snapshots, phase timings, schema migrations - so a plan
 * taken under a lock still matches after the lock is released.
 * Inside a transaction each call is a savepoint: a call that fails undoes
 * only its own partial work.  After a full disk or I/O error SQLite rolls
 * the whole transaction back; later calls and commit then fail with SF_EIO
 * and nothing is committed.  Rollback is always safe to call. */
int sf_state_begin(struct sf_state *st, struct sf_err *err);
int sf_state_commit(struct sf_state *st, struct sf_err *err);
void sf_state_rollback(struct sf_state *st);

/* Resources. get: SF_ENOTFOUND if absent. list: sorted by address. put:
 * insert or replace by address, encrypting attrs named in r->sensitive
 * (AES-256-GCM, AAD = address + "\0" + attribute). SF_ECRYPTO on a wrong
 * key, never garbage.
 * Sensitive names are top-level attribute names; any JSON value (string,
 * object, ...) is sealed whole and comes back with its type. The key is
 * loaded/derived on the first secret read or write, not at open, so
 * states without secrets never pay for PBKDF2. put does not modify r;
 * updated_at is set to now. rename re-seals secrets under the new address
 * and rewrites other resources' deps that named src. */
int sf_state_get(struct sf_state *st, const char *address, struct sf_resource **out,
		 struct sf_err *err);
int sf_state_list(struct sf_state *st, struct sf_resource ***out, size_t *n, struct sf_err *err);
int sf_state_put(struct sf_state *st, const struct sf_resource *r, struct sf_err *err);
int sf_state_remove(struct sf_state *st, const char *address, struct sf_err *err);
/* Rename address src to dst (same type required; SF_ECONFLICT if dst exists). */
int sf_state_rename(struct sf_state *st, const char *src, const char *dst, struct sf_err *err);

/* Secrets kept outside the state (saved plans) under the state's key: the
 * members of attrs named in `names` are replaced by {"$enc": envelope}
 * (seal) or restored from one (open), exactly as sf_state_put seals a row,
 * with AAD = address + "\0" + attribute.  Callers pick an address no row
 * can have (e.g. "plan:<lineage>:<address>") so a plan's ciphertext cannot
 * stand in for a state row's.  seal loads or creates the key like a first
 * secret write (it writes the key check value, not the serial).  SF_ECRYPTO
 * on a wrong key or a tampered value. */
int sf_state_seal_attrs(struct sf_state *st, const char *address, json_t *attrs, const json_t *names,
			struct sf_err *err);
int sf_state_open_attrs(struct sf_state *st, const char *address, json_t *attrs, const json_t *names,
			struct sf_err *err);

/* Key/value outputs and metadata (e.g. "workspace", "git_sha"). get: SF_ENOTFOUND;
 * *out owned (free()). set: value NULL deletes the key. The store's own keys
 * (lineage, serial, created_at, created_by, secfaas_version, kdf_salt,
 * key_check, key_source) can be read but not set (SF_EINVAL). */
int sf_state_meta_get(struct sf_state *st, const char *key, char **out, struct sf_err *err);
int sf_state_meta_set(struct sf_state *st, const char *key, const char *value, struct sf_err *err);
/* Every key starting with prefix, in key order, with its value (owned
 * arrays of owned strings; free each and both arrays). */
int sf_state_meta_list(struct sf_state *st, const char *prefix, char ***keys, char ***vals, size_t *n,
		       struct sf_err *err);

/* Deterministic idempotency token: hex SHA-256 of lineage|address|op|generation,
 * cut to 32 chars (fits EC2 ClientToken 64 and EKS clientRequestToken). */
void sf_state_token(struct sf_state *st, const char *address, const char *op, int generation,
		    char out[33]);

/* Operations journal: an intent row before every cloud call, the result
 * right after. op: "create", "update", "delete", "read". */
struct sf_journal_entry {
	int64_t id, run_id;
	char *address, *op, *token, *detail; /* detail: JSON text or NULL */
	int done, ok;
	char *result;                         /* JSON text or NULL */
	double started, finished;
};
/* run_id <= 0: no run; else it must exist (SF_EINVAL). detail/result must be
 * valid JSON or NULL, and must never hold secrets (stored in clear).
 * result: SF_ENOTFOUND for an unknown id, SF_ECONFLICT if already resolved. */
int sf_journal_intent(struct sf_state *st, int64_t run_id, const char *address, const char *op,
		      const char *token, const char *detail_json, int64_t *out_id, struct sf_err *err);
int sf_journal_result(struct sf_state *st, int64_t id, int ok, const char *result_json,
		      struct sf_err *err);
/* Intents without a result (a run died between intent and result). */
int sf_journal_open(struct sf_state *st, struct sf_journal_entry **out, size_t *n, struct sf_err *err);
/* Entries for one address (NULL = all), oldest first, at most `limit` (0 = all):
 * with a limit, the newest `limit` entries (like tail), still oldest first. */
int sf_journal_list(struct sf_state *st, const char *address, size_t limit,
		    struct sf_journal_entry **out, size_t *n, struct sf_err *err);
void sf_journal_free(struct sf_journal_entry *v, size_t n);

/* Run history. */
struct sf_run_info {
	const char *command;      /* "apply", "destroy", ... */
	const char *spec_digest;  /* hex sha256 of the spec snapshot; may be NULL */
	const char *git_sha;      /* commit the spec came from; may be NULL */
	const char *plan_summary; /* JSON {"add":N,"change":N,"destroy":N}; may be NULL */
};
struct sf_run {
	int64_t id;
	double started, finished;      /* finished 0 while running / if it died */
	char *who, *host, *command, *spec_digest, *git_sha, *plan_summary, *result, *summary;
	int64_t serial_before, serial_after;
	int pid;
};
int sf_state_run_begin(struct sf_state *st, const struct sf_run_info *ri, int64_t *out_id,
		       struct sf_err *err);
/* result: "ok", "error", "interrupted"; summary: JSON text or NULL. */
int sf_state_run_end(struct sf_state *st, int64_t run_id, const char *result, const char *summary,
		     struct sf_err *err);
int sf_state_runs(struct sf_state *st, struct sf_run **out, size_t *n, struct sf_err *err); /* newest first */
/* run_end: SF_ENOTFOUND if the run does not exist or has already ended. */
void sf_run_free(struct sf_run *v, size_t n);

/* Snapshots: JSON of all resources (secrets stay encrypted) at the current
 * serial; keeps the newest 20. restore writes the snapshot's resources as
 * a new serial (never rewinds the serial). */
int sf_state_snapshot(struct sf_state *st, struct sf_err *err);
/* Newest first; *serials and *times are owned (free()); times may be NULL. */
int sf_state_snapshots(struct sf_state *st, int64_t **serials, double **times, size_t *n,
		       struct sf_err *err);
/* Snapshots the current content first (so a restore can be undone), then
 * replaces all resources. SF_ENOTFOUND if no snapshot at `serial`.
 * snapshot/restore inside a transaction with pending writes: SF_EINVAL. */
int sf_state_restore(struct sf_state *st, int64_t serial, struct sf_err *err);

/* Phase timings behind "typical 9-16m" in progress lines: record how long a
 * phase took (e.g. type "eks_cluster", phase "create"); typical returns the
 * 10th..90th percentile of the newest 50 samples in *lo..*hi and the
 * sample count in *n (0: no data, lo = hi = 0). Bookkeeping: no serial bump. */
int sf_state_timing_add(struct sf_state *st, const char *type, const char *phase, double seconds,
			struct sf_err *err);
int sf_state_timing_typical(struct sf_state *st, const char *type, const char *phase, double *lo,
			    double *hi, size_t *n, struct sf_err *err);

/* Locks: one writer per state file. */
struct sf_lock_info {
	char id[37];
	char operation[32];
	char who[128];       /* "user@host" */
	char host[128];
	int pid;
	char version[32];
	double created, heartbeat;
	char info[256];      /* free text, e.g. "spec@<sha>" */
};
/* Acquire or fail. timeout_s = 0: fail fast; else retry until then.
 * A lock held by a dead PID on this host is reclaimed silently.
 * On SF_ELOCKED, *holder (if non-NULL) describes the lock in the way. */
int sf_lock_acquire(struct sf_state *st, const char *operation, const char *info, double timeout_s,
		    struct sf_lock_info *holder, char id_out[37], struct sf_err *err);
/* Fencing: once a handle has acquired a lock, every commit that writes
 * state content checks, inside its transaction, that the lock is still
 * that one; if not it writes nothing, fails SF_ELOCKED and the handle is
 * broken (sf_state_broken).  Release (or force-unlock of its own id) ends
 * the fence.  A file checks its lock row; PostgreSQL its session advisory
 * lock (a session that lost it cannot commit at all), and on both the
 * serial compare-and-swap refuses a commit on top of another writer's.
 * heartbeat/release: SF_ENOTFOUND when `id` no longer holds the lock (someone
 * force-unlocked it): the run should stop writing. acquire refuses inside a
 * transaction (SF_EINVAL); while waiting it does not hold the handle mutex. */
int sf_lock_heartbeat(struct sf_state *st, const char *id, struct sf_err *err);
int sf_lock_release(struct sf_state *st, const char *id, struct sf_err *err);
/* For a reader that must not see a writer's run half done but writes
 * nothing itself (a plan): 0 once no live run holds the lock, waiting up to
 * timeout_s; a stale lock does not stop a reader (reclaiming it is the next
 * writer's business).  SF_ELOCKED with *holder (if non-NULL) filled as
 * sf_lock_acquire's.  Takes nothing and writes nothing, so it works on a
 * read-only handle.  A file only: PostgreSQL's lock is a session lock whose
 * row outlives a dead session, so there the reader takes the lock. */
int sf_lock_wait_free(struct sf_state *st, double timeout_s, struct sf_lock_info *holder, struct sf_err *err);
/* SF_ENOTFOUND if unlocked. */
int sf_lock_get(struct sf_state *st, struct sf_lock_info *out, struct sf_err *err);
/* Removes the lock only if `id` matches exactly. A lock whose heartbeat is
 * fresh (< 5 min) and whose PID is alive needs force=1. */
int sf_lock_force_unlock(struct sf_state *st, const char *id, int force, struct sf_err *err);
/* 1 if heartbeat older than 5 minutes, or same host and PID dead. */
int sf_lock_is_stale(const struct sf_lock_info *li, double now);

/* Fleet claims: `apply --all` started on several runners at once takes each
 * workspace's lock without waiting (the others skip it) and then claims the
 * workspace for a named round (e.g. the commit being applied), so a runner
 * that comes to it later does not apply it again.  Call with the lock held.
 * claim: 0 claimed; SF_ECONFLICT when the round was already completed
 * successfully, with *prev describing by whom (a claim that ended in error,
 * or whose runner died, can be claimed again).  Bookkeeping: no serial bump. */
struct sf_claim {
	char who[128];   /* "user@host" */
	char host[128];
	int pid;
	char status[16]; /* "running", "ok", "error" */
	double started, finished;
};
int sf_state_claim(struct sf_state *st, const char *round, struct sf_claim *prev, struct sf_err *err);
int sf_state_claim_end(struct sf_state *st, const char *round, int ok, struct sf_err *err);

/* Copy everything of src into dst: lineage, serial, resources (secrets
 * re-sealed under dst's key), journal, run history, snapshots, metadata,
 * phase timings.  dst must be new (serial 0, nothing in it) or carry the
 * same lineage at a serial not newer than src's; otherwise SF_ECONFLICT and
 * dst is untouched.  One transaction on dst; src is only read.  Neither
 * handle may be inside a transaction; take dst's lock first. */
int sf_state_copy(struct sf_state *dst, struct sf_state *src, struct sf_err *err);

#endif

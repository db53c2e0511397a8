/* settings.c - repository settings in secfaas.yaml (see settings.h). */
#include "provisioner/cli/settings.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provisioner/spec/schema.h"
#include "util.h"

static void check_url(const struct sf_node *n, struct sf_diags *d, const char *path)
{
	const char *u = n->scalar;
	if (strncmp(u, "postgres://", 11) && strncmp(u, "postgresql://", 13)) {
		sf_diag_error(d, &n->pos, "%s: the shared state backend is a postgres:// or postgresql:// URL", path);
		return;
	}
	/* A committed file is the wrong place for a password. */
	const char *auth = strstr(u, "://") + 3, *end = auth + strcspn(auth, "/?#");
	const char *at = memchr(auth, '@', (size_t)(end - auth));
	if ((at && memchr(auth, ':', (size_t)(at - auth))) || strstr(u, "password="))
		sf_diag_error(d, &n->pos,
			      "%s: the URL carries a password; keep it out of the repository and use PGPASSWORD or "
			      "~/.pgpass (PGPASSFILE) instead",
			      path);
}

static const struct sf_schema backend_fields[] = {
	{"url", SF_S_STRING, SF_S_NONEMPTY, 0, 0, 0, 0, 0, check_url,
	 "postgres:// URL of the shared state database (default: state files in .secfaas/)"},
	{"schema", SF_S_STRING, SF_S_NONEMPTY, 0, 0, 0, 0, 0, 0,
	 "PostgreSQL schema of this team's tables (default secfaas)"},
	{"kmsKeyId", SF_S_STRING, SF_S_NONEMPTY, 0, 0, 0, 0, 0, 0,
	 "AWS KMS key (id, ARN or alias) that wraps the key of state secrets"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

static const struct sf_schema settings_fields[] = {
	{"backend", SF_S_OBJECT, SF_S_REQUIRED, backend_fields, 0, 0, 0, 0, 0, "where state lives"},
	{NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0},
};

int sf_settings_is_doc(const struct sf_node *root)
{
	return root && root->type == SF_N_MAP && !sf_node_get(root, "kind") && sf_node_key(root, "backend");
}

/* secfaas.yaml here or in a parent, up to the directory holding .git. */
static char *find_file(void)
{
	char *dir = getcwd(NULL, 0);
	char *found = NULL;
	struct stat sb;
	while (dir) {
		char *f = xasprintf("%s%ssecfaas.yaml", dir, strcmp(dir, "/") ? "/" : "");
		char *g = xasprintf("%s%s.git", dir, strcmp(dir, "/") ? "/" : "");
		int is_file = stat(f, &sb) == 0 && S_ISREG(sb.st_mode);
		int top = stat(g, &sb) == 0;
		free(g);
		if (is_file) {
			found = f;
			break;
		}
		free(f);
		char *slash = strrchr(dir, '/');
		if (top || !slash || slash == dir)
			break;
		*slash = 0;
	}
	free(dir);
	return found;
}

static char *dup_str(const struct sf_node *n, const char *key)
{
	const char *v = sf_node_str(sf_node_get(n, key));
	return v && *v ? xstrdup(v) : NULL;
}

int sf_settings_load(struct sf_settings *s, FILE *errf, int color)
{
	memset(s, 0, sizeof *s);
	char *file = find_file();
	if (!file)
		return 0;
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_diags diags = SF_DIAGS_INIT, *d = &diags;
	int rc = 0;
	s->file = file; /* kept for messages, also when it is not valid */
	if (sf_spec_load_path(&set, file, d) < 0) {
		rc = -1;
		goto done;
	}
	const struct sf_node *found = NULL;
	for (size_t i = 0; i < set.n; i++) {
		if (!sf_settings_is_doc(set.docs[i].root))
			continue;
		if (found) {
			sf_diag_error(d, &set.docs[i].root->pos, "a second settings document; keep one `backend:` section");
			continue;
		}
		found = set.docs[i].root;
		struct sf_schema top = {"settings", SF_S_OBJECT, 0, settings_fields, 0, 0, 0, 0, 0, 0};
		sf_schema_validate(&top, found, "", d);
	}
	if (d->nerrors) {
		rc = -1;
		goto done;
	}
	if (found) {
		const struct sf_node *b = sf_node_get(found, "backend");
		s->backend = dup_str(b, "url");
		s->schema = dup_str(b, "schema");
		s->kms_key_id = dup_str(b, "kmsKeyId");
	}
done:
	/* positions in d point into the set's file names: print first */
	if (rc < 0)
		sf_diags_print(d, errf, color);
	sf_diags_release(d);
	sf_specset_release(&set);
	if (rc == 0 && !s->backend && !s->schema && !s->kms_key_id) {
		free(s->file);
		s->file = NULL;
	}
	return rc;
}

void sf_settings_release(struct sf_settings *s)
{
	free(s->file);
	free(s->backend);
	free(s->schema);
	free(s->kms_key_id);
	memset(s, 0, sizeof *s);
}

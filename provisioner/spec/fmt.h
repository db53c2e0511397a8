/*
 * fmt.h - canonical formatting of spec files (`secfaas fmt`), comments kept.
 *
 * Why: specs are reviewed in pull requests; one layout for everyone keeps
 * diffs to what changed.  The layout is libyaml's emitter's: two-space
 * indentation, one space after a colon, sequences in a mapping at the
 * key's column, no line wrapping, and every collection and scalar in the
 * style it was written in (flow stays flow, quoted stays quoted).
 *
 * Comments and blank lines: libyaml's events carry none, so the comments
 * are found where libyaml's scanner says no token is (what lies between
 * tokens is whitespace or a comment), tied to the event after them (a
 * comment on its own line, or a run of blank lines, kept as one) or to the
 * last event that starts before them on their line (a trailing comment),
 * and put back at those events' lines in the emitter's output.
 *
 * Never a change of meaning: the result is parsed again and its events
 * (kinds, scalar values, plain or quoted, tags, anchors) and its comments
 * must equal the original's, else formatting fails and the text is left
 * as it is.
 *
 * Ownership: *out is owned by the caller (free()).
 */
#ifndef SF_SPEC_FMT_H
#define SF_SPEC_FMT_H

#include <stddef.h>

#include "err.h"

/* Format the YAML text buf (named `name` in messages).  0 with the
 * canonical text in *out; SF_EINVAL for text libyaml cannot parse
 * ("NAME:LINE:COL: problem") or that cannot be formatted without a change
 * of meaning. */
int sf_spec_format(const char *name, const char *buf, size_t len, char **out, size_t *outlen, struct sf_err *err);

#endif

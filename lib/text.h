/*
 * text.h - make text that came from outside (spec values, file contents,
 * remote error messages) safe to put in a one-line message on a terminal,
 * and bounded in size.
 *
 * Why: diagnostics echo what the user wrote ("\"%s\" is not a valid label
 * value").  A spec value holding ESC sequences would otherwise drive the
 * terminal that prints the message (rewrite earlier lines, set the title,
 * hide the real error), and a 10 MB value would make one error line 10 MB.
 * Every message is sanitised in one place (err.c for struct sf_err,
 * spec.c for diagnostics) instead of at each of the hundreds of sites that
 * format one.
 *
 * Escapes (the text stays valid UTF-8 and visibly says what was there):
 *   \n \r \t               as those two characters
 *   other C0 bytes and DEL  \xNN
 *   C1 controls U+0080..U+009F, the bidirectional overrides and isolates
 *   U+202A..U+202E, U+2066..U+2069 (they reorder what a terminal shows)
 *                           \uNNNN
 *   bytes that are not UTF-8 \xNN
 * A result longer than its bound keeps its head and its tail (where the
 * "what to do" of a message usually is) and says how much was left out:
 * "...[12345 bytes elided]...".
 *
 * No allocation: callers hand in the output buffer.
 */
#ifndef SF_TEXT_H
#define SF_TEXT_H

#include <stddef.h>

/* Escape src[0..len) into dst (size n >= 64), NUL-terminated; when the
 * escaped text does not fit, the middle is replaced by the elision marker.
 * Returns dst. */
char *sf_text_escape(char *dst, size_t n, const char *src, size_t len);

/* 1 when s[0..len) needs no escaping (printable UTF-8 only). */
int sf_text_is_clean(const char *s, size_t len);

#endif

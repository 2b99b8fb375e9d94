/*
 * errors.c - the text of each TTALLOC_E* code (ttalloc_strerror, from the
 * one table in ttalloc.h so library, server and tools agree) and
 * error_set, the convention of errors.h.
 */
#include "common/errors.h"

#include <stdarg.h>
#include <stdio.h>

const char *ttalloc_strerror(int code)
{
	switch (code) {
	case TTALLOC_OK:
		return "success";
#define TTALLOC_STRERROR_CASE_(name, msg) \
	case TTALLOC_E##name:             \
		return msg;
		TTALLOC_ERRNO_MAP(TTALLOC_STRERROR_CASE_)
#undef TTALLOC_STRERROR_CASE_
	default:
		return "unknown error";
	}
}

int error_set(char *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, ERR_LEN, fmt, ap);
		va_end(ap);
	}
	return code;
}

/*
 * errors.c - ttalloc_strerror(): the text for each TTALLOC_E* code, taken
 * from the one table in ttalloc.h so library, server and tools agree.
 */
#include "ttalloc.h"

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

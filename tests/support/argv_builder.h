/*
 * argv_builder.h - command lines for the parsers' unit tests: a program
 * name and a NULL-terminated list of arguments become argc/argv.
 */
#ifndef TTALLOC_TEST_ARGV_BUILDER_H
#define TTALLOC_TEST_ARGV_BUILDER_H

#include <stdarg.h>

#define ARGV_BUILDER_MAX 16

/* Fills argv (ARGV_BUILDER_MAX slots) with `program` and the arguments of `ap` up to NULL; returns argc. */
static inline int argv_build(char **argv, char *program, va_list ap)
{
	int argc = 0;
	argv[argc++] = program;
	for (char *arg = va_arg(ap, char *); arg && argc < ARGV_BUILDER_MAX - 1; arg = va_arg(ap, char *))
		argv[argc++] = arg;
	argv[argc] = NULL;
	return argc;
}

/*
 * ARGV_PARSE(parser, program, o, err): the body of a variadic test helper
 * `int parse(OPTIONS *o, char *err, ...)` that runs parser(o, argc, argv, err)
 * on `program` and the arguments.
 */
#define ARGV_PARSE(parser, program, o, err)                  \
	do {                                                 \
		char *argv_[ARGV_BUILDER_MAX];               \
		va_list ap_;                                 \
		va_start(ap_, err);                          \
		int argc_ = argv_build(argv_, program, ap_); \
		va_end(ap_);                                 \
		return parser(o, argc_, argv_, err);         \
	} while (0)

#endif /* TTALLOC_TEST_ARGV_BUILDER_H */

/*
 * version.h - what a binary says it is: the release (TTALLOC_VERSION, from
 * CMakeLists.txt's project version) and the git commit it was built from
 * (ttalloc_revision, generated at build time by cmake/revision.cmake and
 * linked into the server).
 */
#ifndef TTALLOC_COMMON_VERSION_H
#define TTALLOC_COMMON_VERSION_H

#ifndef TTALLOC_VERSION
#define TTALLOC_VERSION "0.1.0"
#endif

/* "1a2b3c4d5e6f", with "-dirty" for uncommitted changes; "unknown" outside a git checkout. */
extern const char ttalloc_revision[];

#endif /* TTALLOC_COMMON_VERSION_H */

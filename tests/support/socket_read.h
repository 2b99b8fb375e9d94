/*
 * socket_read.h - reading a peer's answer in the unit tests. Include after
 * <cmocka.h>.
 */
#ifndef TTALLOC_TEST_SOCKET_READ_H
#define TTALLOC_TEST_SOCKET_READ_H

#include <poll.h>
#include <stddef.h>
#include <unistd.h>

/* Reads exactly len bytes; fails the test if they do not come within a second each. */
static inline void read_exact(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		assert_int_equal(poll(&p, 1, 1000), 1);
		ssize_t n = read(fd, (char *)buf + got, len - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
}

#endif /* TTALLOC_TEST_SOCKET_READ_H */

/*
 * metrics_identity.h - the identity part of /metrics: ttalloc_build_info,
 * ttalloc_server_start_time_seconds, ttalloc_host_info, and the identity
 * labels of ttalloc_device_info (serial, asic_id, pci_bus_id, card_type,
 * uuid where known; simulated devices carry made-up ones and
 * simulated="true"). A fleet's queries join on these.
 */
#ifndef TTALLOC_HTTP_METRICS_IDENTITY_H
#define TTALLOC_HTTP_METRICS_IDENTITY_H

#include "common/strbuf.h"

struct server;

/* The build, start-time and host families. */
void metrics_identity(struct strbuf *t, struct server *s);

/* One ttalloc_device_info line for `device` (the family's header is the caller's). */
void metrics_device_info(struct strbuf *t, struct server *s, int device);

#endif /* TTALLOC_HTTP_METRICS_IDENTITY_H */

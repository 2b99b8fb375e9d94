/*
 * protocol.c - names and helpers for the wire format in protocol.h.
 *
 * Lookup tables only: encoding is a struct copy, because the frame is a
 * packed little-endian struct checked by _Static_assert.
 */
#include "protocol.h"

#include <string.h>
#include <time.h>

/* Everything the code needs to know about a message type, in one row. */
struct proto_type_row {
	unsigned type;
	const char *name;
	enum proto_direction direction;
};

static const struct proto_type_row proto_types[] = {
	{PROTO_ALLOC, "ALLOC", PROTO_DIR_REQUEST},
	{PROTO_FREE, "FREE", PROTO_DIR_REQUEST},
	{PROTO_QUERY, "QUERY", PROTO_DIR_REQUEST},
	{PROTO_RESPONSE, "RESPONSE", PROTO_DIR_ANSWER},
	{PROTO_DUMP_REMAINING, "DUMP_REMAINING", PROTO_DIR_REQUEST},
	{PROTO_DEVICE_INFO_QUERY, "DEVICE_INFO_QUERY", PROTO_DIR_REQUEST},
	{PROTO_DEVICE_INFO_RESPONSE, "DEVICE_INFO_RESPONSE", PROTO_DIR_ANSWER},
	{PROTO_HELLO, "HELLO", PROTO_DIR_REQUEST},
	{PROTO_HELLO_ACK, "HELLO_ACK", PROTO_DIR_ANSWER},
	{PROTO_SYNC, "SYNC", PROTO_DIR_REQUEST},
	{PROTO_SYNC_ACK, "SYNC_ACK", PROTO_DIR_ANSWER},
	{PROTO_DEVICE_STATUS_QUERY, "DEVICE_STATUS_QUERY", PROTO_DIR_REQUEST},
	{PROTO_DEVICE_STATUS, "DEVICE_STATUS", PROTO_DIR_ANSWER},
	{PROTO_PROCESS_QUERY, "PROCESS_QUERY", PROTO_DIR_REQUEST},
	{PROTO_PROCESS_ROW, "PROCESS_ROW", PROTO_DIR_ANSWER},
	{PROTO_LEAK_QUERY, "LEAK_QUERY", PROTO_DIR_REQUEST},
	{PROTO_LEAK_ROW, "LEAK_ROW", PROTO_DIR_ANSWER},
	{PROTO_ROWS_END, "ROWS_END", PROTO_DIR_ANSWER},
	{PROTO_ERROR, "ERROR", PROTO_DIR_ANSWER},
	{PROTO_STACK_DEF, "STACK_DEF", PROTO_DIR_REQUEST},
	{PROTO_HOLDER_QUERY, "HOLDER_QUERY", PROTO_DIR_REQUEST},
	{PROTO_HOLDER_ROW, "HOLDER_ROW", PROTO_DIR_ANSWER},
	{PROTO_HISTORY_QUERY, "HISTORY_QUERY", PROTO_DIR_REQUEST},
	{PROTO_HISTORY_ROW, "HISTORY_ROW", PROTO_DIR_ANSWER},
	{PROTO_STACK_LINE, "STACK_LINE", PROTO_DIR_ANSWER},
};

static const struct proto_type_row *proto_type_lookup(unsigned type)
{
	for (size_t i = 0; i < sizeof(proto_types) / sizeof(proto_types[0]); i++)
		if (proto_types[i].type == type)
			return &proto_types[i];
	return NULL;
}

const char *proto_type_name(unsigned type)
{
	const struct proto_type_row *row = proto_type_lookup(type);
	return row ? row->name : NULL;
}

enum proto_direction proto_type_direction(unsigned type)
{
	const struct proto_type_row *row = proto_type_lookup(type);
	return row ? row->direction : PROTO_DIR_UNKNOWN;
}

static const char *const reason_labels[] = {
#define PROTO_LABEL_(name, label, desc) label,
	PROTO_ERROR_MAP(PROTO_LABEL_)
#undef PROTO_LABEL_
};

static const char *const reason_descriptions[] = {
#define PROTO_DESC_(name, label, desc) desc,
	PROTO_ERROR_MAP(PROTO_DESC_)
#undef PROTO_DESC_
};

const char *proto_error_label(enum proto_error_reason reason)
{
	return (unsigned)reason < PROTO_ERR_COUNT ? reason_labels[reason] : "unknown";
}

const char *proto_error_description(enum proto_error_reason reason)
{
	return (unsigned)reason < PROTO_ERR_COUNT ? reason_descriptions[reason] : "unknown error";
}

int proto_buffer_type_valid(unsigned type)
{
	return type < TTALLOC_BUFFER_TYPES;
}

const char *proto_buffer_type_name(unsigned type)
{
	static const char *const names[TTALLOC_BUFFER_TYPES] = {
		[TTALLOC_DRAM] = "DRAM",
		[TTALLOC_L1] = "L1",
		[TTALLOC_SYSTEM_MEMORY] = "SYSTEM_MEMORY",
		[TTALLOC_L1_SMALL] = "L1_SMALL",
		[TTALLOC_TRACE] = "TRACE",
		[TTALLOC_CB] = "CB",
	};
	static const char *const unknown[] = {"TYPE?"};
	return proto_buffer_type_valid(type) ? names[type] : unknown[0];
}

const char *proto_arch_name(unsigned arch)
{
	switch (arch) {
	case PROTO_ARCH_GRAYSKULL:
		return "Grayskull";
	case PROTO_ARCH_WORMHOLE_B0:
		return "Wormhole_B0";
	case PROTO_ARCH_BLACKHOLE:
		return "Blackhole";
	case PROTO_ARCH_QUASAR:
		return "Quasar";
	default:
		return "Unknown";
	}
}

void proto_msg_init(struct proto_msg *msg, enum proto_msg_type type, int32_t device_id)
{
	memset(msg, 0, sizeof(*msg));
	msg->type = (uint8_t)type;
	msg->device_id = device_id;
}

void proto_set_string(char *field, size_t field_size, const char *text)
{
	if (field_size == 0)
		return;
	size_t len = text ? strnlen(text, field_size - 1) : 0;
	memcpy(field, text ? text : "", len);
	memset(field + len, 0, field_size - len);
}

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t proto_now_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

uint64_t proto_monotonic_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

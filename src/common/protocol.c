/*
 * protocol.c - names and helpers for the wire format in protocol.h.
 *
 * Lookup tables only: encoding is a struct copy, because the frame is a
 * packed little-endian struct checked by _Static_assert.
 */
#include "common/protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Everything the code needs to know about a message type, in one row. */
struct proto_type_row {
	unsigned type;
	const char *name;
	enum proto_direction direction;
	int reads_registry;
};

static const struct proto_type_row proto_types[] = {
#define PROTO_TYPE_ROW_(name, code, handler, direction, reads) {PROTO_##name, #name, PROTO_DIR_##direction, reads},
	PROTO_MESSAGE_MAP(PROTO_TYPE_ROW_)
#undef PROTO_TYPE_ROW_
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

int proto_type_reads_registry(unsigned type)
{
	const struct proto_type_row *row = proto_type_lookup(type);
	return row ? row->reads_registry : 0;
}

static const struct label reasons[PROTO_ERR_COUNT] = LABELS_TABLE(PROTO_ERROR_MAP, PROTO_ERR_);

const char *proto_error_label(enum proto_error_reason reason)
{
	return labels_label(reasons, PROTO_ERR_COUNT, reason, "unknown");
}

const char *proto_error_description(enum proto_error_reason reason)
{
	return labels_words(reasons, PROTO_ERR_COUNT, reason, "unknown error");
}

int proto_buffer_type_valid(unsigned type)
{
	return type < TTALLOC_BUFFER_TYPES;
}

const char *proto_buffer_type_name(unsigned type)
{
	static const char *const names[TTALLOC_BUFFER_TYPES] = {
		[TTALLOC_DRAM] = "DRAM",         [TTALLOC_L1] = "L1",       [TTALLOC_SYSTEM_MEMORY] = "SYSTEM_MEMORY",
		[TTALLOC_L1_SMALL] = "L1_SMALL", [TTALLOC_TRACE] = "TRACE", [TTALLOC_CB] = "CB",
		[TTALLOC_KERNEL] = "KERNEL",
	};
	static const char *const unknown[] = {"TYPE?"};
	return proto_buffer_type_valid(type) ? names[type] : unknown[0];
}

const char *proto_http_state_name(unsigned state)
{
	static const char *const names[] =
		{[PROTO_HTTP_OFF] = "off", [PROTO_HTTP_UP] = "up", [PROTO_HTTP_WAITING] = "waiting"};
	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "unknown";
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

/* ---- wire formats: 112-byte (seed) and 144-byte (upstream tt-metal) frames ---- */

static void seed_decode(const uint8_t *frame, struct proto_msg *msg)
{
	memcpy(msg, frame, sizeof(*msg));
}

static void seed_encode(const struct proto_msg *msg, const struct proto_answer_extra *extra, uint8_t *frame)
{
	(void)extra;
	memcpy(frame, msg, sizeof(*msg));
}

/* The header (offsets 0..39) is the same in both formats. */
#define PROTO_HEADER_SIZE offsetof(struct proto_msg, u)
_Static_assert(offsetof(struct proto_upstream_msg, dram_allocated) == PROTO_HEADER_SIZE, "one header");

/* Answers with the seed's payload: the ones whose fields move in the 144-byte frame. */
static int has_seed_payload(unsigned type)
{
	return type == PROTO_RESPONSE || type == PROTO_DEVICE_INFO_RESPONSE || type == PROTO_QUERY ||
		type == PROTO_DEVICE_INFO_QUERY;
}

/* The seed's answer fields, which upstream's 144-byte frame has too (at other offsets). */
/* A macro of macros, which clang-format 14 lays out differently at each run: kept as written. */
/* clang-format off */
#define SEED_FIELDS_(X)                                                                                    \
	X(dram_allocated) X(l1_allocated) X(l1_small_allocated) X(trace_allocated) X(total_dram_size)      \
	X(total_l1_size) X(arch_type) X(num_dram_channels) X(dram_size_per_channel) X(l1_size_per_core)    \
	X(is_available) X(num_devices)
/* clang-format on */

static void upstream_decode(const uint8_t *frame, struct proto_msg *msg)
{
	struct proto_upstream_msg up;
	memcpy(&up, frame, sizeof(up));
	memset(msg, 0, sizeof(*msg));
	memcpy(msg, &up, PROTO_HEADER_SIZE);
	if (!has_seed_payload(up.type)) {
		/* other types keep their 112-byte payload where it was */
		memcpy(msg->u.raw, frame + PROTO_HEADER_SIZE, sizeof(msg->u.raw));
		return;
	}
	struct proto_seed_payload *seed = &msg->u.seed;
#define COPY_FROM_UPSTREAM_(field) seed->field = up.field;
	SEED_FIELDS_(COPY_FROM_UPSTREAM_)
#undef COPY_FROM_UPSTREAM_
}

static void upstream_encode(const struct proto_msg *msg, const struct proto_answer_extra *extra, uint8_t *frame)
{
	struct proto_upstream_msg up;
	memset(&up, 0, sizeof(up));
	memcpy(&up, msg, PROTO_HEADER_SIZE);
	if (has_seed_payload(msg->type)) {
		const struct proto_seed_payload *seed = &msg->u.seed;
#define COPY_TO_UPSTREAM_(field) up.field = seed->field;
		SEED_FIELDS_(COPY_TO_UPSTREAM_)
#undef COPY_TO_UPSTREAM_
		if (extra) {
			up.cb_allocated = extra->cb_allocated;
			up.kernel_allocated = extra->kernel_allocated;
		}
		memcpy(frame, &up, sizeof(up));
		return;
	}
	/* ttalloc's own answers keep the 112-byte layout, zero-padded to 144 */
	memcpy(frame, msg, sizeof(*msg));
	memset(frame + sizeof(*msg), 0, sizeof(up) - sizeof(*msg));
}

static const struct proto_wire_format wire_formats[PROTO_WIRES] = {
	[PROTO_WIRE_SEED] = {PROTO_WIRE_SEED, "112-byte", PROTO_MSG_SIZE, seed_decode, seed_encode},
	[PROTO_WIRE_UPSTREAM144] = {PROTO_WIRE_UPSTREAM144, "144-byte", PROTO_UPSTREAM_MSG_SIZE, upstream_decode,
				    upstream_encode},
};

const struct proto_wire_format *proto_wire_format(enum proto_wire wire)
{
	return (unsigned)wire < PROTO_WIRES ? &wire_formats[wire] : &wire_formats[PROTO_WIRE_SEED];
}

int proto_upstream_request_type(unsigned type)
{
	switch (type) {
	case PROTO_ALLOC:
	case PROTO_FREE:
	case PROTO_QUERY:
	case PROTO_DUMP_REMAINING:
	case PROTO_DEVICE_INFO_QUERY:
	case PROTO_CB_ALLOC:
	case PROTO_CB_FREE:
	case PROTO_KERNEL_LOAD:
	case PROTO_KERNEL_UNLOAD:
	case PROTO_DUMP_KERNELS:
		return 1;
	default:
		return 0;
	}
}

int proto_wire_detect(const uint8_t *data, size_t len)
{
	if (len < PROTO_MSG_SIZE)
		return -1;
	if (!proto_upstream_request_type(data[0]) || data[1] || data[2] || data[3] || data[17] || data[18] || data[19])
		return PROTO_WIRE_SEED;
	size_t end = len < PROTO_UPSTREAM_MSG_SIZE ? len : PROTO_UPSTREAM_MSG_SIZE;
	for (size_t i = PROTO_MSG_SIZE; i < end; i++)
		if (data[i])
			return PROTO_WIRE_SEED;
	return len >= PROTO_UPSTREAM_MSG_SIZE ? PROTO_WIRE_UPSTREAM144 : -1;
}

uint32_t proto_release_of(const char *version)
{
	unsigned long part[3];
	const char *p = version;
	for (int i = 0; i < 3; i++) {
		char *end;
		if (!p || *p < '0' || *p > '9')
			return 0;
		part[i] = strtoul(p, &end, 10);
		if (part[i] > (i == 0 ? 0xffffu : 0xffu) || (i < 2 && *end != '.'))
			return 0;
		p = i < 2 ? end + 1 : end;
	}
	return PROTO_RELEASE(part[0], part[1], part[2]);
}

char *proto_release_text(uint32_t release, char *buf, size_t size)
{
	if (!release)
		snprintf(buf, size, "unknown");
	else
		snprintf(buf, size, "%u.%u.%u", release >> 16, (release >> 8) & 0xffu, release & 0xffu);
	return buf;
}

int proto_text_valid(const char *field, size_t size)
{
	size_t len = 0;
	while (len < size && field[len]) {
		unsigned char c = (unsigned char)field[len];
		if (c < 0x20 || c == 0x7f)
			return 0;
		len++;
	}
	return len > 0 && len < size;
}

/*
 * test_protocol.c - the wire format of protocol.h against the layout table
 * of ARCHITECTURE.md (byte offsets of every field, little-endian bytes on
 * the wire), and the name tables every component prints from.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/clock.h"
#include "common/protocol.h"
#include "ttalloc.h"

#define OFFSET(field) offsetof(struct proto_msg, field)

static void test_frame_is_112_bytes(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct proto_msg), 112);
	assert_int_equal(PROTO_MSG_SIZE, 112);
	assert_int_equal(sizeof(((struct proto_msg *)0)->u), 72);
	assert_int_equal(sizeof(struct proto_seed_payload), 72);
	assert_int_equal(sizeof(struct proto_status_payload), 72);
	assert_int_equal(sizeof(struct proto_process_payload), 72);
	assert_int_equal(sizeof(struct proto_error_payload), 72);
	assert_int_equal(sizeof(struct proto_hello_payload), 72);
}

/* Every row of the ARCHITECTURE.md table, in order. */
static void test_header_and_seed_offsets_match_the_layout_table(void **state)
{
	(void)state;
	assert_int_equal(OFFSET(type), 0);
	assert_int_equal(OFFSET(pad1), 1);
	assert_int_equal(sizeof(((struct proto_msg *)0)->pad1), 3);
	assert_int_equal(OFFSET(device_id), 4);
	assert_int_equal(OFFSET(size), 8);
	assert_int_equal(OFFSET(buffer_type), 16);
	assert_int_equal(OFFSET(pad2), 17);
	assert_int_equal(sizeof(((struct proto_msg *)0)->pad2), 3);
	assert_int_equal(OFFSET(process_id), 20);
	assert_int_equal(OFFSET(buffer_id), 24);
	assert_int_equal(OFFSET(timestamp), 32);
	assert_int_equal(OFFSET(u), 40);
	assert_int_equal(OFFSET(u.seed.dram_allocated), 40);
	assert_int_equal(OFFSET(u.seed.l1_allocated), 48);
	assert_int_equal(OFFSET(u.seed.l1_small_allocated), 56);
	assert_int_equal(OFFSET(u.seed.trace_allocated), 64);
	assert_int_equal(OFFSET(u.seed.total_dram_size), 72);
	assert_int_equal(OFFSET(u.seed.total_l1_size), 80);
	assert_int_equal(OFFSET(u.seed.arch_type), 88);
	assert_int_equal(OFFSET(u.seed.num_dram_channels), 92);
	assert_int_equal(OFFSET(u.seed.dram_size_per_channel), 96);
	assert_int_equal(OFFSET(u.seed.l1_size_per_core), 100);
	assert_int_equal(OFFSET(u.seed.is_available), 104);
	assert_int_equal(OFFSET(u.seed.num_devices), 108);
}

static void test_extension_payload_offsets(void **state)
{
	(void)state;
	/* DEVICE_STATUS */
	assert_int_equal(OFFSET(u.status.temperature_mc), 40);
	assert_int_equal(OFFSET(u.status.power_mw), 44);
	assert_int_equal(OFFSET(u.status.utilization), 48);
	assert_int_equal(OFFSET(u.status.valid), 52);
	assert_int_equal(OFFSET(u.status.live_buffers), 56);
	assert_int_equal(OFFSET(u.status.processes), 64);
	assert_int_equal(OFFSET(u.status.backend_flags), 68);
	assert_int_equal(OFFSET(u.status.cb_allocated), 72);
	assert_int_equal(OFFSET(u.status.system_memory), 80);
	assert_int_equal(OFFSET(u.status.name), 88);
	assert_int_equal(sizeof(((struct proto_msg *)0)->u.status.name), 24);
	/* PROCESS_ROW and LEAK_ROW: used[] in the seed's DRAM, L1, L1_SMALL, TRACE order */
	assert_int_equal(OFFSET(u.process.used), 40);
	assert_int_equal(OFFSET(u.process.used[1]), 48);
	assert_int_equal(OFFSET(u.process.used[2]), 56);
	assert_int_equal(OFFSET(u.process.used[3]), 64);
	assert_int_equal(OFFSET(u.process.system_memory), 72);
	assert_int_equal(OFFSET(u.process.cb), 80);
	assert_int_equal(OFFSET(u.process.uid), 88);
	assert_int_equal(OFFSET(u.process.flags), 92);
	assert_int_equal(OFFSET(u.process.comm), 96);
	assert_int_equal(sizeof(((struct proto_msg *)0)->u.process.comm), 16);
	/* ERROR */
	assert_int_equal(OFFSET(u.error.code), 40);
	assert_int_equal(OFFSET(u.error.reason), 44);
	assert_int_equal(OFFSET(u.error.message), 48);
	assert_int_equal(sizeof(((struct proto_msg *)0)->u.error.message), 64);
	/* HELLO and HELLO_ACK */
	assert_int_equal(OFFSET(u.hello.version), 40);
	assert_int_equal(OFFSET(u.hello.features), 44);
	assert_int_equal(OFFSET(u.hello.num_devices), 48);
	assert_int_equal(OFFSET(u.hello.server_pid), 52);
	assert_int_equal(OFFSET(u.raw), 40);
}

static uint64_t read_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = n; i-- > 0;)
		v = (v << 8) | p[i];
	return v;
}

/*
 * The bytes a seed client (Python "=BBBB i Q BBBB i Q Q QQQQ QQIIIIII")
 * would read: each field little-endian at its offset.
 */
static void test_fields_are_little_endian_bytes_on_the_wire(void **state)
{
	(void)state;
	struct proto_msg m;
	proto_msg_init(&m, PROTO_RESPONSE, -2);
	m.size = 0x0102030405060708ull;
	m.buffer_type = TTALLOC_L1_SMALL;
	m.process_id = 0x11223344;
	m.buffer_id = 0xa1a2a3a4a5a6a7a8ull;
	m.timestamp = 0x1111111122222222ull;
	m.u.seed.dram_allocated = 1;
	m.u.seed.l1_allocated = 2;
	m.u.seed.l1_small_allocated = 3;
	m.u.seed.trace_allocated = 4;
	m.u.seed.total_dram_size = 12ull << 30;
	m.u.seed.total_l1_size = 1440ull << 20;
	m.u.seed.arch_type = PROTO_ARCH_WORMHOLE_B0;
	m.u.seed.num_dram_channels = 12;
	m.u.seed.dram_size_per_channel = 1u << 30;
	m.u.seed.l1_size_per_core = 1536 * 1024;
	m.u.seed.is_available = 1;
	m.u.seed.num_devices = 2;
	uint8_t b[PROTO_MSG_SIZE];
	memcpy(b, &m, sizeof(b));
	assert_int_equal(b[0], PROTO_RESPONSE);
	assert_int_equal(read_le(b + 1, 3), 0);
	assert_int_equal((int32_t)read_le(b + 4, 4), -2);
	assert_true(read_le(b + 8, 8) == 0x0102030405060708ull);
	assert_int_equal(b[8], 0x08);
	assert_int_equal(b[16], TTALLOC_L1_SMALL);
	assert_int_equal(read_le(b + 17, 3), 0);
	assert_int_equal(read_le(b + 20, 4), 0x11223344);
	assert_true(read_le(b + 24, 8) == 0xa1a2a3a4a5a6a7a8ull);
	assert_true(read_le(b + 32, 8) == 0x1111111122222222ull);
	for (int i = 0; i < 4; i++)
		assert_int_equal(read_le(b + 40 + 8 * i, 8), (uint64_t)(i + 1));
	assert_true(read_le(b + 72, 8) == 12ull << 30);
	assert_true(read_le(b + 80, 8) == 1440ull << 20);
	assert_int_equal(read_le(b + 88, 4), 2);
	assert_int_equal(read_le(b + 92, 4), 12);
	assert_int_equal(read_le(b + 96, 4), 1u << 30);
	assert_int_equal(read_le(b + 100, 4), 1536 * 1024);
	assert_int_equal(read_le(b + 104, 4), 1);
	assert_int_equal(read_le(b + 108, 4), 2);
}

static void test_seed_type_codes_are_fixed(void **state)
{
	(void)state;
	assert_int_equal(PROTO_ALLOC, 1);
	assert_int_equal(PROTO_FREE, 2);
	assert_int_equal(PROTO_QUERY, 3);
	assert_int_equal(PROTO_RESPONSE, 4);
	assert_int_equal(PROTO_DUMP_REMAINING, 5);
	assert_int_equal(PROTO_DEVICE_INFO_QUERY, 6);
	assert_int_equal(PROTO_DEVICE_INFO_RESPONSE, 7);
	/* tt-metal's BufferType values, cast straight onto the wire */
	assert_int_equal(TTALLOC_DRAM, 0);
	assert_int_equal(TTALLOC_L1, 1);
	assert_int_equal(TTALLOC_SYSTEM_MEMORY, 2);
	assert_int_equal(TTALLOC_L1_SMALL, 3);
	assert_int_equal(TTALLOC_TRACE, 4);
	assert_int_equal(TTALLOC_CB, 5);
	assert_int_equal(TTALLOC_KERNEL, 6);
	assert_int_equal(TTALLOC_BUFFER_TYPES, 7);
	/* upstream tt-metal's later types (AllocationClient's AllocMessage::Type) */
	assert_int_equal(PROTO_CB_ALLOC, 8);
	assert_int_equal(PROTO_CB_FREE, 9);
	assert_int_equal(PROTO_KERNEL_LOAD, 10);
	assert_int_equal(PROTO_KERNEL_UNLOAD, 11);
	assert_int_equal(PROTO_DUMP_KERNELS, 12);
}

static const struct {
	unsigned type;
	const char *name;
	enum proto_direction direction;
} known_types[] = {
	{PROTO_ALLOC, "ALLOC", PROTO_DIR_REQUEST},
	{PROTO_FREE, "FREE", PROTO_DIR_REQUEST},
	{PROTO_QUERY, "QUERY", PROTO_DIR_REQUEST},
	{PROTO_RESPONSE, "RESPONSE", PROTO_DIR_ANSWER},
	{PROTO_DUMP_REMAINING, "DUMP_REMAINING", PROTO_DIR_REQUEST},
	{PROTO_DEVICE_INFO_QUERY, "DEVICE_INFO_QUERY", PROTO_DIR_REQUEST},
	{PROTO_DEVICE_INFO_RESPONSE, "DEVICE_INFO_RESPONSE", PROTO_DIR_ANSWER},
	{PROTO_CB_ALLOC, "CB_ALLOC", PROTO_DIR_REQUEST},
	{PROTO_CB_FREE, "CB_FREE", PROTO_DIR_REQUEST},
	{PROTO_KERNEL_LOAD, "KERNEL_LOAD", PROTO_DIR_REQUEST},
	{PROTO_KERNEL_UNLOAD, "KERNEL_UNLOAD", PROTO_DIR_REQUEST},
	{PROTO_DUMP_KERNELS, "DUMP_KERNELS", PROTO_DIR_REQUEST},
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
	{PROTO_RING_ATTACH, "RING_ATTACH", PROTO_DIR_REQUEST},
	{PROTO_RING_ACK, "RING_ACK", PROTO_DIR_ANSWER},
	{143, "GOODBYE", PROTO_DIR_REQUEST},
	{144, "ALLOC_FAILED", PROTO_DIR_REQUEST},
	{145, "MARK", PROTO_DIR_REQUEST},
	{146, "STACK_TEXT", PROTO_DIR_REQUEST},
	{147, "DOC_QUERY", PROTO_DIR_REQUEST},
	{148, "DOC_CHUNK", PROTO_DIR_ANSWER},
	{PROTO_HOLDER_QUERY, "HOLDER_QUERY", PROTO_DIR_REQUEST},
	{PROTO_HOLDER_ROW, "HOLDER_ROW", PROTO_DIR_ANSWER},
	{PROTO_HISTORY_QUERY, "HISTORY_QUERY", PROTO_DIR_REQUEST},
	{PROTO_HISTORY_ROW, "HISTORY_ROW", PROTO_DIR_ANSWER},
	{154, "BUFFER_QUERY", PROTO_DIR_REQUEST},
	{155, "BUFFER_ROW", PROTO_DIR_ANSWER},
	{PROTO_STACK_LINE, "STACK_LINE", PROTO_DIR_ANSWER},
	{156, "CLEAR_LEAKS", PROTO_DIR_REQUEST},
	{157, "CLEARED", PROTO_DIR_ANSWER},
	{158, "IDENTITY_QUERY", PROTO_DIR_REQUEST},
	{159, "IDENTITY_ROW", PROTO_DIR_ANSWER},
};
enum { KNOWN_TYPES = sizeof(known_types) / sizeof(known_types[0]) };

static void test_type_names_and_directions(void **state)
{
	(void)state;
	for (int i = 0; i < KNOWN_TYPES; i++) {
		assert_non_null(proto_type_name(known_types[i].type));
		assert_string_equal(proto_type_name(known_types[i].type), known_types[i].name);
		assert_int_equal(proto_type_direction(known_types[i].type), known_types[i].direction);
	}
	/* every other byte value is unknown */
	for (unsigned t = 0; t < 256; t++) {
		int known = 0;
		for (int i = 0; i < KNOWN_TYPES; i++)
			known |= known_types[i].type == t;
		if (known)
			continue;
		assert_null(proto_type_name(t));
		assert_int_equal(proto_type_direction(t), PROTO_DIR_UNKNOWN);
	}
	assert_null(proto_type_name(256 + PROTO_ALLOC));
}

static void test_buffer_type_names(void **state)
{
	(void)state;
	static const char *const names[] = {"DRAM", "L1", "SYSTEM_MEMORY", "L1_SMALL", "TRACE", "CB", "KERNEL"};
	for (unsigned t = 0; t < TTALLOC_BUFFER_TYPES; t++) {
		assert_true(proto_buffer_type_valid(t));
		assert_string_equal(proto_buffer_type_name(t), names[t]);
	}
	for (unsigned t = TTALLOC_BUFFER_TYPES; t < 300; t++) {
		assert_false(proto_buffer_type_valid(t));
		assert_string_equal(proto_buffer_type_name(t), "TYPE?");
	}
	assert_false(proto_buffer_type_valid(UINT32_MAX));
}

static void test_arch_names(void **state)
{
	(void)state;
	assert_int_equal(PROTO_ARCH_INVALID, 0);
	assert_int_equal(PROTO_ARCH_GRAYSKULL, 1);
	assert_int_equal(PROTO_ARCH_WORMHOLE_B0, 2);
	assert_int_equal(PROTO_ARCH_BLACKHOLE, 3);
	assert_int_equal(PROTO_ARCH_QUASAR, 4);
	assert_string_equal(proto_arch_name(PROTO_ARCH_GRAYSKULL), "Grayskull");
	assert_string_equal(proto_arch_name(PROTO_ARCH_WORMHOLE_B0), "Wormhole_B0");
	assert_string_equal(proto_arch_name(PROTO_ARCH_BLACKHOLE), "Blackhole");
	assert_string_equal(proto_arch_name(PROTO_ARCH_QUASAR), "Quasar");
	assert_string_equal(proto_arch_name(PROTO_ARCH_INVALID), "Unknown");
	assert_string_equal(proto_arch_name(5), "Unknown");
	assert_string_equal(proto_arch_name(UINT32_MAX), "Unknown");
	assert_string_equal(proto_http_state_name(PROTO_HTTP_OFF), "off");
	assert_string_equal(proto_http_state_name(PROTO_HTTP_UP), "up");
	assert_string_equal(proto_http_state_name(PROTO_HTTP_WAITING), "waiting");
	assert_string_equal(proto_http_state_name(3), "unknown");
}

static void test_error_labels_are_unique_and_non_empty(void **state)
{
	(void)state;
	assert_true(PROTO_ERR_COUNT > 0);
	for (int i = 0; i < PROTO_ERR_COUNT; i++) {
		const char *label = proto_error_label((enum proto_error_reason)i);
		const char *desc = proto_error_description((enum proto_error_reason)i);
		assert_non_null(label);
		assert_non_null(desc);
		assert_true(strlen(label) > 0);
		assert_true(strlen(desc) > 0);
		assert_string_not_equal(label, "unknown");
		/* a Prometheus label value: lower case, digits, underscores */
		for (const char *p = label; *p; p++)
			assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_');
		for (int j = 0; j < i; j++) {
			assert_string_not_equal(label, proto_error_label((enum proto_error_reason)j));
			assert_string_not_equal(desc, proto_error_description((enum proto_error_reason)j));
		}
	}
	assert_string_equal(proto_error_label(PROTO_ERR_BAD_DEVICE), "bad_device");
	assert_string_equal(proto_error_label(PROTO_ERR_PID_MISMATCH), "pid_mismatch");
	assert_string_equal(proto_error_label(PROTO_ERR_COUNT), "unknown");
	assert_string_equal(proto_error_label((enum proto_error_reason) - 1), "unknown");
	assert_string_equal(proto_error_description(PROTO_ERR_COUNT), "unknown error");
}

static void test_strerror_names_every_code(void **state)
{
	(void)state;
	static const int codes[] = {
#define CODE_(name, msg) TTALLOC_E##name,
		TTALLOC_ERRNO_MAP(CODE_)
#undef CODE_
	};
	static const char *const messages[] = {
#define MSG_(name, msg) msg,
		TTALLOC_ERRNO_MAP(MSG_)
#undef MSG_
	};
	enum { N = sizeof(codes) / sizeof(codes[0]) };
	assert_string_equal(ttalloc_strerror(TTALLOC_OK), "success");
	for (int i = 0; i < N; i++) {
		assert_true(codes[i] < 0);
		assert_true(codes[i] > TTALLOC_ERRNO_FIRST_ && codes[i] < TTALLOC_ERRNO_LAST_);
		const char *text = ttalloc_strerror(codes[i]);
		assert_string_equal(text, messages[i]);
		assert_true(strlen(text) > 0);
		assert_string_not_equal(text, "unknown error");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(text, ttalloc_strerror(codes[j]));
	}
	assert_string_equal(ttalloc_strerror(TTALLOC_ENOSERVER), "the allocation server is not reachable");
	assert_string_equal(ttalloc_strerror(1), "unknown error");
	assert_string_equal(ttalloc_strerror(-1), "unknown error");
	assert_string_equal(ttalloc_strerror(TTALLOC_ERRNO_FIRST_), "unknown error");
	assert_string_equal(ttalloc_strerror(TTALLOC_ERRNO_LAST_), "unknown error");
}

static void test_msg_init_zeroes_everything_but_type_and_device(void **state)
{
	(void)state;
	struct proto_msg m;
	memset(&m, 0xab, sizeof(m));
	proto_msg_init(&m, PROTO_QUERY, 7);
	const uint8_t *b = (const uint8_t *)&m;
	assert_int_equal(b[0], PROTO_QUERY);
	assert_int_equal(m.device_id, 7);
	for (size_t i = 1; i < sizeof(m); i++)
		if (i < 4 || i >= 8)
			assert_int_equal(b[i], 0);
}

static void test_set_string_truncates_and_pads(void **state)
{
	(void)state;
	char field[8];
	memset(field, 'x', sizeof(field));
	proto_set_string(field, sizeof(field), "abc");
	assert_string_equal(field, "abc");
	for (size_t i = 3; i < sizeof(field); i++)
		assert_int_equal(field[i], 0);
	proto_set_string(field, sizeof(field), "abcdefghijkl");
	assert_string_equal(field, "abcdefg");
	proto_set_string(field, sizeof(field), NULL);
	assert_string_equal(field, "");
	field[0] = 'q';
	proto_set_string(field, 0, "abc"); /* no room: untouched */
	assert_int_equal(field[0], 'q');
}

static void test_clocks(void **state)
{
	(void)state;
	uint64_t now = clock_realtime_ns();
	assert_true(now > 1577836800ull * 1000000000ull); /* after 2020 */
	uint64_t a = clock_monotonic_ns(), b = clock_monotonic_ns();
	assert_true(b >= a);
}

/* ---- the two wire formats ---- */

static void test_upstream_frame_is_144_bytes_with_seed_fields_moved(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct proto_upstream_msg), 144);
	struct proto_msg ans;
	proto_msg_init(&ans, PROTO_RESPONSE, 1);
	ans.u.seed.dram_allocated = 11;
	ans.u.seed.trace_allocated = 44;
	ans.u.seed.total_dram_size = 55;
	ans.u.seed.num_devices = 2;
	struct proto_answer_extra extra = {.cb_allocated = 66, .kernel_allocated = 77};
	uint8_t frame[PROTO_MAX_FRAME_SIZE];
	const struct proto_wire_format *up = proto_wire_format(PROTO_WIRE_UPSTREAM144);
	assert_int_equal(up->frame_size, 144);
	up->encode(&ans, &extra, frame);
	struct proto_upstream_msg m;
	memcpy(&m, frame, sizeof(m));
	assert_int_equal(m.type, PROTO_RESPONSE);
	assert_int_equal(m.device_id, 1);
	assert_int_equal(m.dram_allocated, 11);
	assert_int_equal(m.trace_allocated, 44);
	assert_int_equal(m.cb_allocated, 66);
	assert_int_equal(m.kernel_allocated, 77);
	assert_int_equal(m.total_dram_size, 55);
	assert_int_equal(m.num_devices, 2);
	assert_int_equal(m.ringbuffer_total_size, 0);
	/* and back */
	struct proto_msg back;
	up->decode(frame, &back);
	assert_int_equal(back.u.seed.total_dram_size, 55);
	assert_int_equal(back.u.seed.num_devices, 2);
	/* ttalloc's own answers keep the 112-byte layout, zero-padded */
	struct proto_msg row;
	proto_msg_init(&row, PROTO_PROCESS_ROW, 0);
	row.u.process.cb = 99;
	up->encode(&row, NULL, frame);
	assert_memory_equal(frame, &row, sizeof(row));
	for (size_t i = sizeof(row); i < sizeof(frame); i++)
		assert_int_equal(frame[i], 0);
	/* the seed format is a plain copy */
	const struct proto_wire_format *seed = proto_wire_format(PROTO_WIRE_SEED);
	assert_int_equal(seed->frame_size, 112);
	seed->encode(&ans, &extra, frame);
	assert_memory_equal(frame, &ans, sizeof(ans));
}

static void test_wire_detection(void **state)
{
	(void)state;
	uint8_t buf[2 * PROTO_UPSTREAM_MSG_SIZE];
	struct proto_upstream_msg up;
	memset(&up, 0, sizeof(up));
	up.type = PROTO_ALLOC;
	up.size = 4096;
	up.process_id = 7;
	memcpy(buf, &up, sizeof(up));
	memcpy(buf + sizeof(up), &up, sizeof(up));
	assert_int_equal(proto_wire_detect(buf, 50), -1);
	assert_int_equal(proto_wire_detect(buf, 112), -1); /* could be either: more bytes tell */
	assert_int_equal(proto_wire_detect(buf, 130), -1);
	assert_int_equal(proto_wire_detect(buf, 144), PROTO_WIRE_UPSTREAM144);
	assert_int_equal(proto_wire_detect(buf, sizeof(buf)), PROTO_WIRE_UPSTREAM144);
	/* two seed frames: the second's type sits at 112 */
	struct proto_msg seed[2];
	proto_msg_init(&seed[0], PROTO_ALLOC, 0);
	proto_msg_init(&seed[1], PROTO_FREE, 0);
	memcpy(buf, seed, sizeof(seed));
	assert_int_equal(proto_wire_detect(buf, 113), PROTO_WIRE_SEED);
	assert_int_equal(proto_wire_detect(buf, sizeof(seed)), PROTO_WIRE_SEED);
	/* ttalloc's own first frames are never upstream-shaped */
	proto_msg_init(&seed[0], PROTO_HELLO, -1);
	memcpy(buf, seed, sizeof(seed[0]));
	assert_int_equal(proto_wire_detect(buf, 112), PROTO_WIRE_SEED);
	/* non-zero padding: not tt-metal's memset frame */
	memcpy(buf, &up, sizeof(up));
	buf[2] = 1;
	assert_int_equal(proto_wire_detect(buf, 112), PROTO_WIRE_SEED);
	/* the upstream request types */
	for (unsigned t = 0; t < 256; t++)
		assert_int_equal(proto_upstream_request_type(t),
				 t == 1 || t == 2 || t == 3 || t == 5 || t == 6 || (t >= 8 && t <= 12));
}

static void test_a_release_is_one_number_that_compares_as_versions_do(void **state)
{
	(void)state;
	char text[16];
	assert_int_equal(proto_release_of("0.1.0"), PROTO_RELEASE(0, 1, 0));
	assert_int_equal(proto_release_of("2.10.255"), PROTO_RELEASE(2, 10, 255));
	assert_true(proto_release_of("0.10.0") > proto_release_of("0.9.3"));
	assert_int_equal(proto_release_of("1.2"), 0);
	assert_int_equal(proto_release_of("1.256.0"), 0);
	assert_int_equal(proto_release_of("v1.2.3"), 0);
	assert_int_equal(proto_release_of(NULL), 0);
	assert_int_equal(proto_release_of(TTALLOC_VERSION) != 0, 1);
	assert_string_equal(proto_release_text(PROTO_RELEASE(0, 1, 0), text, sizeof(text)), "0.1.0");
	assert_string_equal(proto_release_text(0, text, sizeof(text)), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_is_112_bytes),
		cmocka_unit_test(test_header_and_seed_offsets_match_the_layout_table),
		cmocka_unit_test(test_extension_payload_offsets),
		cmocka_unit_test(test_fields_are_little_endian_bytes_on_the_wire),
		cmocka_unit_test(test_seed_type_codes_are_fixed),
		cmocka_unit_test(test_type_names_and_directions),
		cmocka_unit_test(test_buffer_type_names),
		cmocka_unit_test(test_arch_names),
		cmocka_unit_test(test_error_labels_are_unique_and_non_empty),
		cmocka_unit_test(test_strerror_names_every_code),
		cmocka_unit_test(test_msg_init_zeroes_everything_but_type_and_device),
		cmocka_unit_test(test_set_string_truncates_and_pads),
		cmocka_unit_test(test_clocks),
		cmocka_unit_test(test_upstream_frame_is_144_bytes_with_seed_fields_moved),
		cmocka_unit_test(test_wire_detection),
		cmocka_unit_test(test_a_release_is_one_number_that_compares_as_versions_do),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

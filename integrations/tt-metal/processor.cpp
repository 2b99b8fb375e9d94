// processor.cpp - libttalloc_ttmetal_graph.so: the IGraphProcessor that
// forwards tt-metal's buffer and circular-buffer events to libttalloc
// (docs/TTMETAL.md). loader.c loads it once tt-metal is in the process and
// calls ttalloc_ttmetal_graph_register(), its only export.
//
// Per event: one virtual call from GraphTracker, the buffer's accessors, a
// dynamic_cast to tell a mesh from a chip, and ttalloc_report_alloc() or
// _free() per chip (libttalloc's cost: a shard lock and a ring slot). No
// lock, allocation or system call of its own (a mesh's chip list is read
// once per thread and mesh); circular buffers, which are rare (a
// program's first run on a device), take one mutex.
//
// How it registers depends on the tt-metal it was built against, detected
// when CMake configures (integrations/tt-metal/CMakeLists.txt):
//   - GraphTracker::push_background_processor, or tt-metal's internal
//     register_background_processor_once: a background processor, with
//     is_capture_processor() false, sees buffers on every thread and
//     leaves GraphTracker::is_enabled() false. tt-metal gives background
//     processors no circular-buffer events, so a second instance, for CBs
//     only, is pushed on the registering thread's stack (not with
//     TTALLOC_TTMETAL_CB=0).
//   - neither: push_processor on the registering thread, for everything;
//     where processor stacks are per thread (tt-metal #44668) only that
//     thread's events are seen.

#include <dlfcn.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <typeinfo>
#include <vector>

#include <tt-metalium/buffer.hpp>
#include <tt-metalium/device.hpp>
#include <tt-metalium/graph_tracking.hpp>
#include <tt-metalium/mesh_device.hpp>

#include "ttalloc.h"
#include "ttalloc_ttmetal.h"

#if TTALLOC_TTMETAL_HAVE_REGISTER_ONCE
// tt-metal's internal API (tt_metal/api/internal/graph_tracking.hpp, not
// installed): declared here as libtt_metal.so exports it; CMake checked
// that it links.
namespace tt::tt_metal::internal {
bool register_background_processor_once(
    const std::type_info& type, const std::function<std::shared_ptr<IGraphProcessor>()>& factory);
}  // namespace tt::tt_metal::internal
#endif

// Defined by the tests' fake tt-metal only: tells a fake from a real one.
extern "C" __attribute__((weak)) const int ttalloc_fake_tt_metal;

// Inside tt-metal's namespace so that CoreRangeSet is found wherever the
// installed tt-metal declares it (global or tt::tt_metal).
namespace tt::tt_metal::ttalloc_plugin {
namespace {

static_assert(static_cast<int>(BufferType::DRAM) == TTALLOC_DRAM && static_cast<int>(BufferType::L1) == TTALLOC_L1 &&
                  static_cast<int>(BufferType::SYSTEM_MEMORY) == TTALLOC_SYSTEM_MEMORY &&
                  static_cast<int>(BufferType::L1_SMALL) == TTALLOC_L1_SMALL &&
                  static_cast<int>(BufferType::TRACE) == TTALLOC_TRACE,
              "tt-metal's BufferType codes are ttalloc's buffer types");

// libttalloc's device ids are 0..63 (PROTO_MAX_DEVICES).
constexpr int kMaxChips = 64;

struct Chips {
    int count = 0;
    int ids[kMaxChips];
};

// A mesh's chips, cached per thread by the mesh's address and id (tt-metal
// numbers meshes from a process-wide counter, so an id is never reused).
const Chips& mesh_chips(const distributed::MeshDevice* mesh) {
    thread_local const distributed::MeshDevice* seen = nullptr;
    thread_local int seen_id = -1;
    thread_local Chips chips;
    int mesh_id = static_cast<int>(mesh->id());
    if (mesh != seen || mesh_id != seen_id) {
        chips.count = 0;
        for (IDevice* chip : mesh->get_devices()) {
            if (chip && chips.count < kMaxChips) {
                chips.ids[chips.count++] = static_cast<int>(chip->id());
            }
        }
        seen = mesh;
        seen_id = mesh_id;
    }
    return chips;
}

// Calls fn(chip id) for each chip a device stands for: itself, or every
// chip of a mesh (a mesh buffer has one address and its per-chip size on
// each). Inlined even unoptimised, with the callers' lambdas, so that an
// allocation stack (8 frames shown) spends one frame on the plugin.
#define TTALLOC_INLINE __attribute__((always_inline))
template <class Fn>
TTALLOC_INLINE inline void for_each_chip(const IDevice* device, Fn&& fn) {
    const auto* mesh = dynamic_cast<const distributed::MeshDevice*>(device);
    if (!mesh) {
        fn(static_cast<int>(device->id()));
        return;
    }
    const Chips& chips = mesh_chips(mesh);
    for (int i = 0; i < chips.count; i++) {
        fn(chips.ids[i]);
    }
}

// What a buffer event reports; false for events that stand for no memory:
// address 0 is a graph capture's hooked allocation (RunMode::NO_DISPATCH).
struct BufferFacts {
    const IDevice* device;
    uint64_t address;
    uint64_t size;
    int type;
};

bool facts_of(const Buffer* buffer, BufferFacts& f) {
    if (!buffer) {
        return false;
    }
    f.device = buffer->device();
    f.address = buffer->address();
    f.size = buffer->size();
    f.type = static_cast<int>(buffer->buffer_type());
    return f.device && f.address && f.size && f.type >= TTALLOC_DRAM && f.type <= TTALLOC_TRACE;
}

// ---- circular buffers ----
//
// tt-metal names a CB by its L1 address, which every program reuses, and
// releases all of a device's CBs at once (track_deallocate_cb names no
// program). Each CB is a record of its own, ALLOC'd as buffer type CB at a
// key whose low 32 bits are the L1 address and high 32 bits a serial, so
// that CBs of live programs at one address, and L1 buffers, never collide
// in libttalloc's (device, address) table.

struct CbRecord {
    uint64_t key;
};

class CbTable {
public:
    void add(int chip, uint64_t addr, uint64_t bytes) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (++serial_ == 0) {
            serial_ = 1;
        }
        uint64_t key = (static_cast<uint64_t>(serial_) << 32) | (addr & 0xffffffffu);
        // reported under the lock: a concurrent release cannot FREE it before its ALLOC
        if (ttalloc_report_alloc(chip, TTALLOC_CB, key, bytes) == 0) {
            live_[chip].push_back({key});
        }
    }

    void release(int chip) {
        std::lock_guard<std::mutex> lock(mutex_);
        release_locked(chip);
    }

    void release_all() {
        std::lock_guard<std::mutex> lock(mutex_);
        for (int chip = 0; chip < kMaxChips; chip++) {
            release_locked(chip);
        }
    }

    // fork(): the child's libttalloc starts with an empty table; so does this one.
    void lock_for_fork() { mutex_.lock(); }
    void unlock_after_fork() { mutex_.unlock(); }
    void forget_in_child() {
        for (auto& records : live_) {
            records.clear();
        }
        mutex_.unlock();
    }

private:
    void release_locked(int chip) {
        for (const CbRecord& r : live_[chip]) {
            ttalloc_report_free(chip, r.key);
        }
        live_[chip].clear();
    }

    std::mutex mutex_;
    uint32_t serial_ = 0;
    std::vector<CbRecord> live_[kMaxChips];
};

// Never destroyed: tt-metal may report CBs from its own static destructors.
CbTable& cbs = *new CbTable;

bool chip_ok(int chip) { return chip >= 0 && chip < kMaxChips; }

// ---- the processor ----

class Processor final : public IGraphProcessor {
public:
    Processor(bool buffers, bool circular_buffers) : buffers_(buffers), circular_buffers_(circular_buffers) {}

#if TTALLOC_TTMETAL_HAVE_CAPTURE_FLAG
    // An observer, not a capture: GraphTracker::is_enabled() stays false.
    bool is_capture_processor() const override { return false; }
#endif

    void track_allocate(const Buffer* buffer) override {
        BufferFacts f;
        if (!buffers_ || !facts_of(buffer, f)) {
            return;
        }
        auto type = static_cast<enum ttalloc_buffer_type>(f.type);
        for_each_chip(f.device, [&](int chip) TTALLOC_INLINE { ttalloc_report_alloc(chip, type, f.address, f.size); });
    }

    void track_deallocate(Buffer* buffer) override {
        BufferFacts f;
        if (!buffers_ || !facts_of(buffer, f)) {
            return;
        }
        for_each_chip(f.device, [&](int chip) TTALLOC_INLINE { ttalloc_report_free(chip, f.address); });
    }

    // `size` is per core; the CB takes it on every core of the range. A
    // globally allocated CB lives in an L1 buffer already reported; under a
    // NO_DISPATCH capture (a hook on this thread) nothing runs.
    void track_allocate_cb(
        const CoreRangeSet& core_range_set,
        uint64_t addr,
        uint64_t size,
        bool is_globally_allocated,
        const IDevice* device) override {
        if (!circular_buffers_ || is_globally_allocated || !device || size == 0 ||
            GraphTracker::instance().get_hook()) {
            return;
        }
        uint64_t cores = core_range_set.num_cores();
        uint64_t bytes = size * (cores ? cores : 1);
        for_each_chip(device, [&](int chip) TTALLOC_INLINE {
            if (chip_ok(chip)) {
                cbs.add(chip, addr, bytes);
            }
        });
    }

    void track_deallocate_cb(const IDevice* device) override {
        if (!circular_buffers_ || !device) {
            return;
        }
        for_each_chip(device, [](int chip) TTALLOC_INLINE {
            if (chip_ok(chip)) {
                cbs.release(chip);
            }
        });
    }

private:
    const bool buffers_;
    const bool circular_buffers_;
};

// At a normal exit the program's CBs go with the device: not a leak. (A
// killed process's are reported with its buffers.)
void release_cbs_at_exit() { cbs.release_all(); }

void lock_cbs_for_fork() { cbs.lock_for_fork(); }
void unlock_cbs_after_fork() { cbs.unlock_after_fork(); }
void forget_cbs_in_child() { cbs.forget_in_child(); }

bool fake_tt_metal_loaded() { return &ttalloc_fake_tt_metal != nullptr; }

long thread_id() { return static_cast<long>(syscall(SYS_gettid)); }

int register_processor(char* message, size_t size) {
#ifdef TTALLOC_FAKE_TT_METAL
    if (!fake_tt_metal_loaded()) {
        std::snprintf(message, size,
                      "this libttalloc_ttmetal was built against the tests' fake tt-metal, not the one loaded: "
                      "build it against yours with -DTTALLOC_TT_METAL_DIR (docs/TTMETAL.md); not tracking");
        return TTALLOC_TTMETAL_EMISMATCH;
    }
#else
    if (fake_tt_metal_loaded()) {
        std::snprintf(message, size,
                      "the tt-metal loaded is the tests' fake one, not the tt-metal this library was built "
                      "against; not tracking");
        return TTALLOC_TTMETAL_EMISMATCH;
    }
#endif
    int connected = ttalloc_init();  // says HELLO now when the server is there; never blocks for long
    const char* server = connected == 0 ? "" : " (the ttalloc server is not reachable yet: events are kept and "
                                               "sent when it is)";
    pthread_atfork(lock_cbs_for_fork, unlock_cbs_after_fork, forget_cbs_in_child);
    std::atexit(release_cbs_at_exit);
    auto& tracker = GraphTracker::instance();
#if TTALLOC_TTMETAL_HAVE_PUSH_BACKGROUND || TTALLOC_TTMETAL_HAVE_REGISTER_ONCE
#if TTALLOC_TTMETAL_HAVE_PUSH_BACKGROUND
    tracker.push_background_processor(std::make_shared<Processor>(true, false));
#else
    internal::register_background_processor_once(
        typeid(Processor), [] { return std::make_shared<Processor>(true, false); });
#endif
    const char* cb_env = std::getenv("TTALLOC_TTMETAL_CB");
    bool cb_here = !(cb_env && std::strcmp(cb_env, "0") == 0);
    if (cb_here) {
        tracker.push_processor(std::make_shared<Processor>(false, true));
    }
    char cb_text[160];
    if (cb_here) {
        std::snprintf(cb_text, sizeof(cb_text), "circular buffers of thread %ld only (tt-metal sends them to "
                      "that thread's processors)", thread_id());
    } else {
        std::snprintf(cb_text, sizeof(cb_text), "no circular buffers (TTALLOC_TTMETAL_CB=0)");
    }
    std::snprintf(message, size, "tracking buffers of every thread (background processor; "
                  "GraphTracker::is_enabled() unchanged), %s%s", cb_text, server);
    return TTALLOC_TTMETAL_ALL_THREADS;
#else
    tracker.push_processor(std::make_shared<Processor>(true, true));
#if TTALLOC_TTMETAL_HAVE_CAPTURE_FLAG
    const char* enabled = "GraphTracker::is_enabled() stays false";
#else
    const char* enabled = "GraphTracker::is_enabled() is now true (this tt-metal predates is_capture_processor)";
#endif
    std::snprintf(message, size, "this tt-metal has no background processors: pushed on thread %ld, whose "
                  "buffers and circular buffers alone are seen where tt-metal keeps a stack per thread; %s%s",
                  thread_id(), enabled, server);
    return TTALLOC_TTMETAL_THIS_THREAD;
#endif
}

}  // namespace
}  // namespace tt::tt_metal::ttalloc_plugin

// Registers once per process (loader.c serialises the calls); writes what it did into `message`.
extern "C" __attribute__((visibility("default"))) int ttalloc_ttmetal_graph_register(char* message, size_t size) {
    static int result = 1;  // not yet
    if (result == 1) {
        result = tt::tt_metal::ttalloc_plugin::register_processor(message, size);
    }
    return result;
}

// fake_tt_metal.cpp - libtt_metal.so of the fake tt-metal
// (tests/fakes/tt-metal/README.md): GraphTracker, Buffer with a small
// allocator per device, devices and meshes, a graph capture in the manner
// of ttnn's GraphProcessor, and the C interface of fake_tt_metal.h.

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include <tt-metalium/buffer.hpp>
#include <tt-metalium/device.hpp>
#include <tt-metalium/graph_tracking.hpp>
#include <tt-metalium/mesh_device.hpp>
#include <tt-metalium/program.hpp>

#include "fake_tt_metal.h"

#ifndef TTALLOC_FAKE_TT_METAL_UNMARKED  // the unmarked variant passes for a real tt-metal
extern "C" const int ttalloc_fake_tt_metal = 1;
#endif

namespace nlohmann {
class json {};
}  // namespace nlohmann

// Background processors registered (for fake_ttmetal_background_processors).
static std::atomic<int> background_count{0};

namespace tt::tt_metal {

nlohmann::json IGraphProcessor::end_capture() { return {}; }

IDevice::~IDevice() = default;

// ---- GraphTracker ----

thread_local std::vector<std::shared_ptr<IGraphProcessor>> GraphTracker::processors;
thread_local std::shared_ptr<IGraphHooks> GraphTracker::hook;

GraphTracker& GraphTracker::instance() {
    static GraphTracker tracker;
    return tracker;
}

bool GraphTracker::is_enabled() const {
    return std::any_of(processors.begin(), processors.end(), [](const auto& p) { return p->is_capture_processor(); });
}

void GraphTracker::push_processor(const std::shared_ptr<IGraphProcessor>& processor) {
    processors.push_back(processor);
}

void GraphTracker::pop_processor() {
    if (!processors.empty()) {
        processors.pop_back();
    }
}

#ifndef TTALLOC_FAKE_TT_METAL_LEGACY
void GraphTracker::push_background_processor(const std::shared_ptr<IGraphProcessor>& processor) {
    std::unique_lock lock(background_processors_mutex);
    background_processors.push_back(processor);
    background_count++;
}
#endif

bool GraphTracker::add_hook(const std::shared_ptr<IGraphHooks>& new_hook) {
    if (hook) {
        return false;
    }
    hook = new_hook;
    return true;
}

void GraphTracker::track_allocate(const Buffer* buffer) {
    for (auto& it : processors) {
        it->track_allocate(buffer);
    }
    std::shared_lock lock(background_processors_mutex);
    for (auto& it : background_processors) {
        it->track_allocate(buffer);
    }
}

void GraphTracker::track_deallocate(Buffer* buffer) {
    for (auto& it : processors) {
        it->track_deallocate(buffer);
    }
    std::shared_lock lock(background_processors_mutex);
    for (auto& it : background_processors) {
        it->track_deallocate(buffer);
    }
}

// As in tt-metal: circular-buffer and program events reach this thread's processors only.
void GraphTracker::track_allocate_cb(
    const CoreRangeSet& core_range_set, uint64_t addr, uint64_t size, bool is_globally_allocated, const IDevice* device) {
    for (auto& it : processors) {
        it->track_allocate_cb(core_range_set, addr, size, is_globally_allocated, device);
    }
}

void GraphTracker::track_deallocate_cb(const IDevice* device) {
    for (auto& it : processors) {
        it->track_deallocate_cb(device);
    }
}

void GraphTracker::track_program(Program* program, const IDevice* device) {
    for (auto& it : processors) {
        it->track_program(program, device);
    }
}

bool GraphTracker::hook_allocate(const Buffer* buffer) { return hook && hook->hook_allocate(buffer); }

bool GraphTracker::hook_deallocate(Buffer* buffer) { return hook && hook->hook_deallocate(buffer); }

bool GraphTracker::hook_program(Program* program) { return hook && hook->hook_program(program); }

const std::vector<std::shared_ptr<IGraphProcessor>>& GraphTracker::get_processors() const { return processors; }

const std::shared_ptr<IGraphHooks>& GraphTracker::get_hook() const { return hook; }

void GraphTracker::clear() {
    processors.clear();
    clear_hook();
}

void GraphTracker::clear_hook() { hook = nullptr; }

// ---- devices and their memory ----

namespace {

// One region per buffer type: [base, base + capacity), split over `banks` banks.
struct Region {
    Region() = default;
    Region(uint64_t b, uint64_t c, uint32_t n) : base(b), capacity(c), banks(n) {}
    uint64_t base = 0;
    uint64_t capacity = 0;
    uint32_t banks = 1;
    uint64_t next = 0;      // bump pointer, relative to base
    uint64_t allocated = 0;
    std::unordered_map<uint64_t, std::vector<uint64_t>> free_by_size;  // exact-size reuse, last freed first
};

const char* type_name(BufferType type) {
    static const char* names[] = {"DRAM", "L1", "SYSTEM_MEMORY", "L1_SMALL", "TRACE"};
    return names[static_cast<int>(type)];
}

constexpr uint64_t kAlign = 32;

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

class Memory {
public:
    // DRAM 1 GiB over 12 banks, L1 64 MiB over 64, the rest small: enough to
    // fill in a test. Every range is apart from the others, a mesh's too, as
    // the server keys buffers by (chip, address) whatever their type.
    explicit Memory(bool mesh) {
        uint64_t m = mesh ? 1 : 0;
        regions_[0] = Region(0x10000000 + m * 0x40000000, 1ull << 30, 12);
        regions_[1] = Region(0x00100000 + m * 0x04f00000, 64ull << 20, 64);
        regions_[2] = Region(0x90000000 + m * 0x10000000, 256ull << 20, 1);
        regions_[3] = Region(0x0a000000 + m * 0x02000000, 16ull << 20, 64);
        regions_[4] = Region(0xc0000000 + m * 0x10000000, 128ull << 20, 12);
    }

    uint64_t allocate(BufferType type, uint64_t size) {
        std::lock_guard lock(mutex_);
        Region& r = regions_[static_cast<int>(type)];
        uint64_t need = align_up(size, kAlign);
        auto reuse = r.free_by_size.find(need);
        if (reuse != r.free_by_size.end() && !reuse->second.empty()) {
            uint64_t address = reuse->second.back();
            reuse->second.pop_back();
            r.allocated += need;
            return address;
        }
        if (r.next + need > r.capacity) {
            throw std::runtime_error(out_of_memory(type, r, size));
        }
        uint64_t address = r.base + r.next;
        r.next += need;
        r.allocated += need;
        return address;
    }

    void deallocate(BufferType type, uint64_t address, uint64_t size) {
        std::lock_guard lock(mutex_);
        Region& r = regions_[static_cast<int>(type)];
        uint64_t need = align_up(size, kAlign);
        r.free_by_size[need].push_back(address);
        r.allocated -= need;
    }

private:
    // bank_manager.cpp's text (TT_FATAL), with this allocator's figures.
    static std::string out_of_memory(BufferType type, const Region& r, uint64_t size) {
        uint64_t per_bank = align_up((size + r.banks - 1) / r.banks, kAlign);
        uint64_t bank_size = r.capacity / r.banks;
        uint64_t allocated = r.allocated / r.banks;
        char text[512];
        std::snprintf(text, sizeof(text),
                      "TT_FATAL @ fake_tt_metal.cpp: false\ninfo:\nOut of Memory: Not enough space to allocate %llu B "
                      "%s buffer across %u banks, where each bank needs to store %llu B, but bank size is %llu B "
                      "(allocated: %llu B, free: %llu B, largest free block: %llu B)",
                      (unsigned long long)size, type_name(type), r.banks, (unsigned long long)per_bank,
                      (unsigned long long)bank_size, (unsigned long long)allocated,
                      (unsigned long long)(bank_size - allocated),
                      (unsigned long long)((r.capacity - r.next) / r.banks));
        return text;
    }

    std::mutex mutex_;
    Region regions_[5];
};

class FakeDevice : public IDevice {
public:
    explicit FakeDevice(int id) : id_(id), memory_(false) {}
    ChipId id() const override { return id_; }
    Memory& memory() { return memory_; }

private:
    int id_;
    Memory memory_;
};

// Meshes allocate in lock-step on every chip; their own range keeps them apart from chip buffers.
struct MeshMemory {
    Memory memory{true};
};

// Chips and meshes by id, and each one's allocator: never freed, so that
// nothing is destroyed under a buffer released at exit.
std::mutex devices_mutex;
std::map<int, IDevice*>& devices = *new std::map<int, IDevice*>;
std::map<const IDevice*, Memory*>& memories = *new std::map<const IDevice*, Memory*>;

IDevice* device_by_id(int id) {
    std::lock_guard lock(devices_mutex);
    auto it = devices.find(id);
    return it == devices.end() ? nullptr : it->second;
}

Memory& memory_of(const IDevice* device) {
    std::lock_guard lock(devices_mutex);
    return *memories.at(device);
}

}  // namespace

namespace distributed {

MeshDevice::MeshDevice(int id, std::vector<IDevice*> devices) : id_(id), devices_(std::move(devices)) {}

MeshDevice::~MeshDevice() = default;

ChipId MeshDevice::id() const { return id_; }

std::vector<IDevice*> MeshDevice::get_devices() const { return devices_; }

}  // namespace distributed

// ---- Buffer ----

Buffer::Buffer(IDevice* device, DeviceAddr size, BufferType buffer_type) :
    device_(device), size_(size), buffer_type_(buffer_type) {}

std::shared_ptr<Buffer> Buffer::create(IDevice* device, DeviceAddr size, DeviceAddr /*page_size*/, BufferType buffer_type) {
    auto buffer = std::make_shared<Buffer>(device, size, buffer_type);
    buffer->allocate_impl();
    return buffer;
}

Buffer::~Buffer() { deallocate_impl(); }

uint32_t Buffer::address() const { return static_cast<uint32_t>(address_); }

// As tt-metal's: a hook may take the allocation (address 0); the tracker is told either way.
void Buffer::allocate_impl() {
    if (GraphTracker::instance().hook_allocate(this)) {
        address_ = 0;
        hooked_allocation_ = true;
    } else {
        address_ = memory_of(device_).allocate(buffer_type_, size_);
    }
    allocated_ = true;
    GraphTracker::instance().track_allocate(this);
}

void Buffer::deallocate_impl() {
    if (!allocated_) {
        return;
    }
    allocated_ = false;
    GraphTracker::instance().track_deallocate(this);
    if (!GraphTracker::instance().hook_deallocate(this) && !hooked_allocation_) {
        memory_of(device_).deallocate(buffer_type_, address_, size_);
    }
}

void DeallocateBuffer(Buffer& buffer) { buffer.deallocate_impl(); }

// ---- graph capture, as ttnn's GraphProcessor does it ----

namespace {

class CaptureProcessor : public IGraphProcessor {
public:
    void track_allocate(const Buffer*) override { events_++; }
    void track_deallocate(Buffer*) override { events_++; }
    void track_allocate_cb(const CoreRangeSet&, uint64_t, uint64_t, bool, const IDevice*) override { events_++; }
    void track_deallocate_cb(const IDevice*) override { events_++; }
    void track_program(Program*, const IDevice*) override { events_++; }
    void track_function_start(std::string_view, std::span<TrackedArgument>) override { events_++; }
    void track_function_end() override { events_++; }
    long events() const { return events_; }

private:
    long events_ = 0;
};

// RunMode::NO_DISPATCH: nothing is allocated or run.
class NoDispatchHooks : public IGraphHooks {
public:
    bool hook_allocate(const Buffer*) override { return true; }
    bool hook_deallocate(Buffer*) override { return true; }
    bool hook_program(Program*) override { return true; }
};

}  // namespace

}  // namespace tt::tt_metal

// ---- the C interface (fake_tt_metal.h) ----

using namespace tt::tt_metal;

namespace {

// Buffers handed out through the C interface, keeping their shared_ptr.
struct Handle {
    std::shared_ptr<Buffer> buffer;
};

IDevice* need_device(int id) {
    IDevice* device = device_by_id(id);
    if (!device) {
        std::fprintf(stderr, "fake tt-metal: device %d is not open\n", id);
        std::abort();
    }
    return device;
}

}  // namespace

extern "C" int fake_ttmetal_open_device(int id) {
    std::lock_guard lock(devices_mutex);
    if (devices.count(id)) {
        return -1;
    }
    auto* device = new FakeDevice(id);
    devices[id] = device;
    memories[device] = &device->memory();
    return 0;
}

extern "C" int fake_ttmetal_open_mesh(int mesh_id, const int* chips, int n) {
    std::vector<IDevice*> members;
    for (int i = 0; i < n; i++) {
        IDevice* chip = device_by_id(chips[i]);
        if (!chip || dynamic_cast<distributed::MeshDevice*>(chip)) {
            return -1;
        }
        members.push_back(chip);
    }
    std::lock_guard lock(devices_mutex);
    if (devices.count(mesh_id)) {
        return -1;
    }
    auto* mesh = new distributed::MeshDevice(mesh_id, members);
    devices[mesh_id] = mesh;
    memories[mesh] = &(new MeshMemory)->memory;
    return 0;
}

extern "C" void* fake_ttmetal_buffer_create(int device, int type, uint64_t size, char* err, size_t err_len) {
    try {
        auto buffer = Buffer::create(need_device(device), size, size, static_cast<BufferType>(type));
        return new Handle{std::move(buffer)};
    } catch (const std::exception& e) {
        if (err && err_len) {
            std::snprintf(err, err_len, "%s", e.what());
        }
        return nullptr;
    }
}

extern "C" void fake_ttmetal_buffer_destroy(void* buffer) {
    auto* handle = static_cast<Handle*>(buffer);
    DeallocateBuffer(*handle->buffer);
    delete handle;
}

extern "C" uint64_t fake_ttmetal_buffer_address(void* buffer) { return static_cast<Handle*>(buffer)->buffer->address(); }

extern "C" void fake_ttmetal_cb_allocate(int device, uint64_t addr, uint64_t size, uint32_t cores, int globally_allocated) {
    GraphTracker::instance().track_allocate_cb(CoreRangeSet(cores), addr, size, globally_allocated != 0, need_device(device));
}

extern "C" void fake_ttmetal_cb_deallocate(int device) { GraphTracker::instance().track_deallocate_cb(need_device(device)); }

extern "C" void fake_ttmetal_program(int device) {
    Program program;
    GraphTracker::instance().track_program(&program, need_device(device));
}

extern "C" void fake_ttmetal_run_op(const char* name) {
    int rows = 32;
    std::string layout = "TILE";
    GraphTracker::instance().track_function_start(name, rows, layout);
    GraphTracker::instance().track_function_end();
}

namespace {
thread_local std::shared_ptr<CaptureProcessor> capture;
}  // namespace

extern "C" void fake_ttmetal_capture_begin(int no_dispatch) {
    capture = std::make_shared<CaptureProcessor>();
    GraphTracker::instance().push_processor(capture);
    if (no_dispatch) {
        GraphTracker::instance().add_hook(std::make_shared<NoDispatchHooks>());
    }
}

// As ttnn's end_graph_capture: asks the top of the stack, then pops it.
extern "C" long fake_ttmetal_capture_end(void) {
    auto& tracker = GraphTracker::instance();
    if (tracker.get_processors().empty() || tracker.get_processors().back() != capture) {
        std::fprintf(stderr, "fake tt-metal: the capture processor is not on top of the stack\n");
        std::abort();
    }
    long events = capture->events();
    tracker.pop_processor();
    tracker.clear_hook();
    capture.reset();
    return events;
}

extern "C" int fake_ttmetal_is_enabled(void) { return GraphTracker::instance().is_enabled(); }

extern "C" int fake_ttmetal_thread_processors(void) {
    return static_cast<int>(GraphTracker::instance().get_processors().size());
}

extern "C" int fake_ttmetal_background_processors(void) { return background_count.load(); }

extern "C" void fake_ttmetal_clear(void) { GraphTracker::instance().clear(); }

extern "C" void* fake_ttmetal_bench_buffer(int device, int type, uint64_t size) {
    return new Buffer(need_device(device), size, static_cast<BufferType>(type));
}

extern "C" void fake_ttmetal_bench_track(void* buffer, uint64_t address) {
    auto* b = static_cast<Buffer*>(buffer);
    b->set_address_for_testing(address);
    GraphTracker::instance().track_allocate(b);
    GraphTracker::instance().track_deallocate(b);
}

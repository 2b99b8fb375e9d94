// Fake tt-metal (tests/fakes/tt-metal/README.md): the part of
// tt-metalium/graph_tracking.hpp that libttalloc_ttmetal uses.
//
// IGraphProcessor's virtual methods are those of the pinned tt-metal commit,
// in its order (tests/fixtures/tt-metal/graph_tracking.hpp):
// tests/integration/test_ttmetal_vtable.py fails when they differ. The
// GraphTracker below behaves as tt-metal's of that era plus
// push_background_processor (tt-metal's GraphTracker.cpp that added it):
// per-thread processor stacks and hooks, process-wide background
// processors that get buffer events on every thread, circular-buffer and
// program events for the calling thread's processors only.
//
// Built with TTALLOC_FAKE_TT_METAL_LEGACY defined, it is a tt-metal of the
// same era without background processors (push_processor only).
#pragma once

#include <stdint.h>
#include <any>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tt-metalium/buffer.hpp>
#include <tt-metalium/core_coord.hpp>

// Set for code built against this fake, never by tt-metal itself.
#define TTALLOC_FAKE_TT_METAL 1

namespace nlohmann {
class json;
}  // namespace nlohmann

namespace tt::tt_metal {

class Buffer;
class IDevice;
class Program;

struct TrackedArgument {
    std::any value;
    std::string (*to_string_fn)(const std::any&);
};

class IGraphProcessor {
public:
    enum class RunMode {
        NORMAL,      // running everything as is
        NO_DISPATCH  // don't do memory allocations and program runs.
    };

    IGraphProcessor() = default;

    // Returns false for background processors that are always
    // registered but should not make GraphTracker::is_enabled() return true.
    virtual bool is_capture_processor() const { return true; }

    virtual void track_allocate(const tt::tt_metal::Buffer* /*buffer*/) {};

    virtual void track_deallocate(tt::tt_metal::Buffer* /*buffer*/) {};

    virtual void track_allocate_cb(
        const CoreRangeSet& /*core_range_set*/,
        uint64_t /*addr*/,
        uint64_t /*size*/,
        bool /*is_globally_allocated*/,
        const IDevice* /*device*/) {};

    virtual void track_deallocate_cb(const IDevice* /*device*/) {};

    virtual void track_program(tt::tt_metal::Program* /*program*/, const IDevice* /*device*/) {};

    virtual void track_function_start(
        std::string_view /*function_name*/, std::span<TrackedArgument> /*input_parameters*/){};

    virtual void track_function_end() {};
    virtual void track_function_end(const std::any& /*output_tensors*/) {};

    virtual void begin_capture(RunMode /*mode*/){};

    virtual nlohmann::json end_capture();

    virtual ~IGraphProcessor() = default;
};

class IGraphHooks {
public:
    IGraphHooks() = default;
    virtual bool hook_allocate(const tt::tt_metal::Buffer* buffer) = 0;

    virtual bool hook_deallocate(tt::tt_metal::Buffer* buffer) = 0;

    virtual bool hook_program(Program* program) = 0;

    virtual ~IGraphHooks() = default;
};

class GraphTracker {
public:
    GraphTracker(const GraphTracker&) = delete;
    GraphTracker(GraphTracker&&) = delete;

    static GraphTracker& instance();

    // True when this thread has a capture processor (is_capture_processor()).
    bool is_enabled() const;

    void push_processor(const std::shared_ptr<IGraphProcessor>& processor);
    void pop_processor();

#ifndef TTALLOC_FAKE_TT_METAL_LEGACY
    // Visible on every thread, never popped, survives clear().
    void push_background_processor(const std::shared_ptr<IGraphProcessor>& processor);
#endif

    bool add_hook(const std::shared_ptr<IGraphHooks>& hook);

    void track_allocate(const Buffer* buffer);
    void track_deallocate(Buffer* buffer);
    void track_allocate_cb(
        const CoreRangeSet& core_range_set,
        uint64_t addr,
        uint64_t size,
        bool is_globally_allocated,
        const IDevice* device);
    void track_deallocate_cb(const IDevice* device);
    void track_program(Program* program, const IDevice* device);

    template <class... Args>
    void track_function_start(std::string_view function_name, Args&&... args) {
        if (processors.empty()) {
            return;
        }
        TrackedArgument params[sizeof...(Args) + 1] = {TrackedArgument{std::any(std::ref(args)), nullptr}...};
        for (auto& it : processors) {
            it->track_function_start(function_name, std::span<TrackedArgument>(params, sizeof...(Args)));
        }
    }

    void track_function_end() {
        for (auto& it : processors) {
            it->track_function_end();
        }
    }

    bool hook_allocate(const Buffer* buffer);
    bool hook_deallocate(Buffer* buffer);
    bool hook_program(Program* program);

    const std::vector<std::shared_ptr<IGraphProcessor>>& get_processors() const;
    const std::shared_ptr<IGraphHooks>& get_hook() const;

    // This thread's processors and hook (background processors stay).
    void clear();
    void clear_hook();

private:
    GraphTracker() = default;
    ~GraphTracker() = default;

    static thread_local std::vector<std::shared_ptr<IGraphProcessor>> processors;
    static thread_local std::shared_ptr<IGraphHooks> hook;

    mutable std::shared_mutex background_processors_mutex;
    std::vector<std::shared_ptr<IGraphProcessor>> background_processors;
};

}  // namespace tt::tt_metal

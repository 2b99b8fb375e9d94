// Fake tt-metal (tests/fakes/tt-metal/README.md): the part of
// tt-metalium/buffer.hpp that libttalloc_ttmetal uses, with tt-metal's
// BufferType codes, and Buffer::create / DeallocateBuffer for the programs
// that drive the fake.
#pragma once

#include <cstdint>
#include <memory>

namespace tt::tt_metal {

using DeviceAddr = uint64_t;

class IDevice;

enum class BufferType {
    DRAM,
    L1,
    SYSTEM_MEMORY,
    L1_SMALL,
    TRACE,
};

class Buffer final : public std::enable_shared_from_this<Buffer> {
public:
    // Allocates `size` bytes (throws std::runtime_error with tt-metal's
    // "Out of Memory: ..." text when the device has no room) and tells
    // GraphTracker, as tt-metal's Buffer::create does.
    static std::shared_ptr<Buffer> create(IDevice* device, DeviceAddr size, DeviceAddr page_size,
                                          BufferType buffer_type);

    Buffer(IDevice* device, DeviceAddr size, BufferType buffer_type);
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer();

    IDevice* device() const { return device_; }
    DeviceAddr size() const { return size_; }
    BufferType buffer_type() const { return buffer_type_; }

    // Address of the buffer in the first bank (0 when a graph-capture hook
    // took the allocation).
    uint32_t address() const;

    // Test seam of the fake (bench): sets the address without allocating.
    void set_address_for_testing(DeviceAddr address) { address_ = address; }

private:
    friend void DeallocateBuffer(Buffer& buffer);
    void allocate_impl();
    void deallocate_impl();

    IDevice* const device_;
    const DeviceAddr size_;
    const BufferType buffer_type_;
    DeviceAddr address_ = 0;
    bool allocated_ = false;
    bool hooked_allocation_ = false;
};

// Releases the buffer's memory now (tracked), as tt-metal's DeallocateBuffer.
void DeallocateBuffer(Buffer& buffer);

}  // namespace tt::tt_metal

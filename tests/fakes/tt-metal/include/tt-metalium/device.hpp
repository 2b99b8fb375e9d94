// Fake tt-metal (tests/fakes/tt-metal/README.md): the part of
// tt-metalium/device.hpp that libttalloc_ttmetal uses.
#pragma once

namespace tt::tt_metal {

using ChipId = int;

class IDevice {
public:
    IDevice() = default;
    IDevice(const IDevice&) = delete;
    IDevice& operator=(const IDevice&) = delete;
    virtual ~IDevice();

    virtual ChipId id() const = 0;
};

}  // namespace tt::tt_metal

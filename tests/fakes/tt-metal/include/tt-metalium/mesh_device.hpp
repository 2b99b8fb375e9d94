// Fake tt-metal (tests/fakes/tt-metal/README.md): the part of
// tt-metalium/mesh_device.hpp that libttalloc_ttmetal uses. A buffer of a
// mesh (MeshBuffer's backing buffer) names the MeshDevice as its device;
// its address and per-chip size hold on every chip of the mesh.
#pragma once

#include <vector>

#include <tt-metalium/device.hpp>

namespace tt::tt_metal::distributed {

class MeshDevice : public IDevice {
public:
    MeshDevice(int id, std::vector<IDevice*> devices);
    ~MeshDevice() override;

    ChipId id() const override;
    std::vector<IDevice*> get_devices() const;

private:
    int id_;
    std::vector<IDevice*> devices_;
};

}  // namespace tt::tt_metal::distributed

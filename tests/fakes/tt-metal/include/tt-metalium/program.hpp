// Fake tt-metal (tests/fakes/tt-metal/README.md): tt-metalium/program.hpp.
// GraphTracker::track_program names a Program; its public interface gives
// no kernel-binary sizes, so libttalloc_ttmetal does not look inside.
#pragma once

namespace tt::tt_metal {

class Program {
public:
    Program() = default;
};

}  // namespace tt::tt_metal

// Fake tt-metal (tests/fakes/tt-metal/README.md): the part of
// tt-metalium/core_coord.hpp that libttalloc_ttmetal uses. tt-metal's
// CoreRangeSet, like this one, is declared at global scope.
#pragma once

#include <cstdint>

class CoreRangeSet {
public:
    explicit CoreRangeSet(uint32_t num_cores) : num_cores_(num_cores) {}

    uint32_t num_cores() const { return num_cores_; }

private:
    uint32_t num_cores_;
};

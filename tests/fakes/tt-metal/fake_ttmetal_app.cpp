// fake_ttmetal_app - a program using the fake tt-metal as an application
// uses tt-metal, driven by lines on stdin (tests/fakes/tt-metal/README.md).
// It knows nothing of ttalloc: libttalloc_ttmetal is loaded into it from
// outside (LD_PRELOAD, ttalloc-run --tt-metal) or not at all.
//
// Prints "ready pid=N", then answers each command with one "rc=N ..." line:
//   open ID                       open chip ID
//   mesh ID CHIP...               open a mesh of open chips
//   alloc NAME DEV TYPE SIZE      Buffer::create (TYPE: tt-metal's BufferType code) -> addr=0x...
//                                 or rc=1 and tt-metal's message (out of memory)
//   free NAME                     DeallocateBuffer
//   thread_alloc NAME DEV TYPE SIZE, thread_free NAME: the same on a new thread
//   churn DEV N                   N DRAM buffers allocated and freed
//   cb DEV ADDR SIZE CORES [global], cbfree DEV, program DEV, op NAME
//   capture_begin [no_dispatch], capture_end -> events=N
//   state                         -> enabled=0|1 thread=N background=N
//   clear                         GraphTracker::clear() on this thread
//   exit [keep]                   free every buffer (unless keep) and exit 0

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "fake_tt_metal.h"

namespace {

std::map<std::string, void*> buffers;

// Named so that an allocation stack shows where the application allocated.
__attribute__((noinline)) void* load_weights(int device, int type, uint64_t size, std::string& error) {
    char err[1024] = "";
    void* buffer = fake_ttmetal_buffer_create(device, type, size, err, sizeof(err));
    if (!buffer) {
        error = err;
    }
    return buffer;
}

std::string alloc(const std::string& name, int device, int type, uint64_t size) {
    std::string error;
    void* buffer = load_weights(device, type, size, error);
    if (!buffer) {
        for (char& c : error) {
            if (c == '\n') {
                c = ' ';
            }
        }
        return "rc=1 " + error;
    }
    buffers[name] = buffer;
    char text[64];
    std::snprintf(text, sizeof(text), "rc=0 addr=0x%llx", (unsigned long long)fake_ttmetal_buffer_address(buffer));
    return text;
}

std::string release(const std::string& name) {
    auto it = buffers.find(name);
    if (it == buffers.end()) {
        return "rc=1 no buffer " + name;
    }
    fake_ttmetal_buffer_destroy(it->second);
    buffers.erase(it);
    return "rc=0";
}

std::string run(const std::string& line) {
    std::istringstream in(line);
    std::string cmd, name;
    in >> cmd;
    int device = 0, type = 0;
    uint64_t size = 0;
    if (cmd == "open") {
        in >> device;
        return "rc=" + std::to_string(fake_ttmetal_open_device(device));
    }
    if (cmd == "mesh") {
        std::vector<int> chips;
        int chip;
        in >> device;
        while (in >> chip) {
            chips.push_back(chip);
        }
        return "rc=" + std::to_string(fake_ttmetal_open_mesh(device, chips.data(), static_cast<int>(chips.size())));
    }
    if (cmd == "alloc") {
        in >> name >> device >> type >> size;
        return alloc(name, device, type, size);
    }
    if (cmd == "free") {
        in >> name;
        return release(name);
    }
    if (cmd == "thread_alloc" || cmd == "thread_free") {
        in >> name >> device >> type >> size;
        std::string answer;
        std::thread worker([&] { answer = cmd == "thread_alloc" ? alloc(name, device, type, size) : release(name); });
        worker.join();
        return answer;
    }
    if (cmd == "churn") {
        long n = 0;
        in >> device >> n;
        for (long i = 0; i < n; i++) {
            void* buffer = fake_ttmetal_buffer_create(device, 0, 4096, nullptr, 0);
            if (!buffer) {
                return "rc=1 churn: allocation failed";
            }
            fake_ttmetal_buffer_destroy(buffer);
        }
        return "rc=0";
    }
    if (cmd == "cb") {
        uint64_t addr = 0;
        uint32_t cores = 1;
        std::string global;
        in >> device >> std::hex >> addr >> std::dec >> size >> cores >> global;
        fake_ttmetal_cb_allocate(device, addr, size, cores, global == "global");
        return "rc=0";
    }
    if (cmd == "cbfree" || cmd == "program") {
        in >> device;
        (cmd == "cbfree" ? fake_ttmetal_cb_deallocate : fake_ttmetal_program)(device);
        return "rc=0";
    }
    if (cmd == "op") {
        in >> name;
        fake_ttmetal_run_op(name.c_str());
        return "rc=0";
    }
    if (cmd == "capture_begin") {
        in >> name;
        fake_ttmetal_capture_begin(name == "no_dispatch");
        return "rc=0";
    }
    if (cmd == "capture_end") {
        return "rc=0 events=" + std::to_string(fake_ttmetal_capture_end());
    }
    if (cmd == "state") {
        return "rc=0 enabled=" + std::to_string(fake_ttmetal_is_enabled()) +
               " thread=" + std::to_string(fake_ttmetal_thread_processors()) +
               " background=" + std::to_string(fake_ttmetal_background_processors());
    }
    if (cmd == "clear") {
        fake_ttmetal_clear();
        return "rc=0";
    }
    return "rc=2 unknown command: " + line;
}

}  // namespace

int main() {
    std::printf("ready pid=%d\n", (int)getpid());
    std::fflush(stdout);
    std::string line;
    while (std::getline(std::cin, line)) {
        if (line.rfind("exit", 0) == 0) {
            if (line != "exit keep") {
                while (!buffers.empty()) {
                    release(buffers.begin()->first);
                }
            }
            return 0;
        }
        if (line.empty()) {
            continue;
        }
        std::printf("%s\n", run(line).c_str());
        std::fflush(stdout);
    }
    return 0;
}

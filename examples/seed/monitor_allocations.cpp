// monitor_allocations.cpp
#include <iostream>
#include <iomanip>
#include <thread>
#include <chrono>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cstring>

#define SOCKET_PATH "/tmp/tt_allocation_server.sock"

struct __attribute__((packed)) AllocMessage {
    enum Type : uint8_t { QUERY = 3, RESPONSE = 4 };

    uint8_t type;
    uint8_t pad1[3];
    int32_t device_id;
    uint64_t size;
    uint8_t buffer_type;
    uint8_t pad2[3];
    int32_t process_id;
    uint64_t buffer_id;
    uint64_t timestamp;

    uint64_t dram_allocated;
    uint64_t l1_allocated;
    uint64_t l1_small_allocated;
    uint64_t trace_allocated;

    uint64_t total_dram_size;
    uint64_t total_l1_size;
    uint32_t arch_type;
    uint32_t num_dram_channels;
    uint32_t dram_size_per_channel;
    uint32_t l1_size_per_core;
    uint32_t is_available;
    uint32_t num_devices;
};

AllocMessage query_device(int device_id) {
    int sock = socket(AF_UNIX, SOCK_STREAM, 0);
    if (sock < 0) {
        throw std::runtime_error("Failed to create socket");
    }

    struct sockaddr_un addr;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, SOCKET_PATH, sizeof(addr.sun_path) - 1);

    if (connect(sock, (struct sockaddr*)&addr, sizeof(addr)) < 0) {
        close(sock);
        throw std::runtime_error("Failed to connect to server");
    }

    AllocMessage query;
    memset(&query, 0, sizeof(query));
    query.type = AllocMessage::QUERY;
    query.device_id = device_id;

    send(sock, &query, sizeof(query), 0);

    AllocMessage response;
    recv(sock, &response, sizeof(response), 0);
    close(sock);

    return response;
}

std::string format_bytes(uint64_t bytes) {
    if (bytes >= 1ULL << 30) {
        return std::to_string(bytes / (1ULL << 30)) + " GB";
    } else if (bytes >= 1ULL << 20) {
        return std::to_string(bytes / (1ULL << 20)) + " MB";
    } else if (bytes >= 1ULL << 10) {
        return std::to_string(bytes / (1ULL << 10)) + " KB";
    } else {
        return std::to_string(bytes) + " B";
    }
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "Usage: " << argv[0] << " <device_id>" << std::endl;
        return 1;
    }

    int device_id = std::atoi(argv[1]);

    std::cout << "Monitoring device " << device_id << " (press Ctrl+C to stop)" << std::endl;
    std::cout << std::endl;

    while (true) {
        try {
            auto stats = query_device(device_id);

            // Clear line and return to start
            std::cout << "\r";
            std::cout << "DRAM: " << std::setw(10) << format_bytes(stats.dram_allocated)
                      << " | L1: " << std::setw(10) << format_bytes(stats.l1_allocated)
                      << " | L1_SMALL: " << std::setw(10) << format_bytes(stats.l1_small_allocated)
                      << " | TRACE: " << std::setw(10) << format_bytes(stats.trace_allocated)
                      << std::flush;

            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        } catch (const std::exception& e) {
            std::cerr << "\nError: " << e.what() << std::endl;
            return 1;
        }
    }

    return 0;
}

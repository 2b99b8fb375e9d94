/*
 * tenstorrent.h - the Tenstorrent backend's card table, exposed for tests
 * and for tools that want to name a card (the backend itself is
 * device_backend_tenstorrent in device.h).
 *
 * The table maps tt-kmd's tt_card_type text to the board's architecture,
 * chip count and memory. Sources for every row are in docs/HARDWARE.md. A
 * field of 0 means no source gives it: the device shows N/A there.
 */
#ifndef TTALLOC_TENSTORRENT_H
#define TTALLOC_TENSTORRENT_H

#include <stdint.h>

#include "common/protocol.h"

struct tt_card {
	const char *type; /* tt_card_type as tt-kmd prints it ("n300") */
	enum proto_arch arch;
	uint32_t chips;            /* ASICs on the board (galaxy: per PCIe node) */
	uint32_t pcie_chips;       /* of which have their own /dev/tenstorrent/N */
	uint32_t dram_channels;    /* per chip; 0 unknown */
	uint64_t dram_per_channel; /* bytes; 0 unknown */
	uint32_t tensix_cores;     /* per chip; 0 unknown (L1 total N/A) */
	uint32_t l1_per_core;      /* bytes */
};

/* The row for a tt_card_type value, or NULL for "unknown" and unlisted types. */
const struct tt_card *tt_card_lookup(const char *type);

/* Architecture from the PCI device id (0x401e Wormhole, 0xb140 Blackhole, 0xfaca Grayskull). */
enum proto_arch tt_arch_from_pci_id(uint64_t device_id);

#endif /* TTALLOC_TENSTORRENT_H */

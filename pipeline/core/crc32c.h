// CRC-32C (Castagnoli), as TFRecord and leveldb frame their records, and its masked form.
#pragma once

#include <cstddef>
#include <cstdint>

namespace petprep {

// CRC-32C of data, continuing from `crc` (0 to start).
// Uses the SSE4.2 crc32 instruction where the CPU has it.
uint32_t Crc32c(const void* data, size_t size, uint32_t crc = 0);
// The same by tables (slicing-by-8), on every CPU; for tests of the hardware path.
uint32_t Crc32cPortable(const void* data, size_t size, uint32_t crc = 0);

// The masked CRC stored next to data that may itself hold CRCs (TFRecord, leveldb):
// rotate right by 15 bits and add 0xa282ead8.
inline uint32_t MaskCrc(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }
inline uint32_t UnmaskCrc(uint32_t masked) {
  uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

}  // namespace petprep

#ifndef BUCKETFS_CRC32C_H
#define BUCKETFS_CRC32C_H
#include <stddef.h>
#include <stdint.h>

// CRC-32C (Castagnoli), as S3's x-amz-checksum-crc32c carries it: `crc` is the value so far
// (0 to start), returned updated over `length` bytes. SSE4.2's crc32 instruction where the CPU
// has it, else a table.
uint32_t bucketfs_crc32c(uint32_t crc, const void *bytes, size_t length);
#endif

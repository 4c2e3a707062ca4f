#ifndef BUCKETFS_LINUX_SHIMS_H
#define BUCKETFS_LINUX_SHIMS_H
// Linux calls that Swift's Glibc module does not export (they need _GNU_SOURCE).
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <linux/falloc.h>

// Gives the disk space of a range back, keeping the file's size; the range reads as zeros.
static inline int bucketfs_punch_hole(int fd, off_t offset, off_t length) {
    return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
}
#endif

#ifndef BUCKETFS_CFUSE3_SHIM_H
#define BUCKETFS_CFUSE3_SHIM_H
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <signal.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>

// glibc tuning for the mount process: one arena, and block buffers (up to 32 MiB) from the heap,
// kept for reuse up to 64 MiB of free space, so that reading does not fault in and zero fresh
// pages for every buffer; resident memory then follows the caches' caps.
static inline void bucketfs_tune_malloc(void) {
    mallopt(M_ARENA_MAX, 1);
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
}

// libfuse >= 3.17 turns fuse_session_new into a macro; a static inline keeps one Swift call.
static inline struct fuse_session *bucketfs_session_new(struct fuse_args *args,
        const struct fuse_lowlevel_ops *ops, void *userdata) {
    return fuse_session_new(args, ops, sizeof(*ops), userdata);
}

// fuse_session_loop_mt is a macro or a versioned symbol depending on the build.
static inline int bucketfs_session_loop_mt(struct fuse_session *se, struct fuse_loop_config *config) {
    return fuse_session_loop_mt(se, config);
}

// Bit fields of fuse_file_info, set from C so the layout is the compiler's business.
static inline void bucketfs_fi_set_keep_cache(struct fuse_file_info *fi, int on) { fi->keep_cache = on ? 1 : 0; }
static inline void bucketfs_fi_set_direct_io(struct fuse_file_info *fi, int on) { fi->direct_io = on ? 1 : 0; }
#endif

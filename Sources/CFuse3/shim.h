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

// libfuse >= 3.17 turns fuse_session_new into a macro; a static inline keeps one Swift call.
static inline struct fuse_session *bucketfs_session_new(struct fuse_args *args,
        const struct fuse_lowlevel_ops *ops, void *userdata) {
    return fuse_session_new(args, ops, sizeof(*ops), userdata);
}
#endif

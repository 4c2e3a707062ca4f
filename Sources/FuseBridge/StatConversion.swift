import BucketFSCore
import Glibc
import S3

/// NodeAttributes to `struct stat`.
enum StatConversion {
    static func timespec(_ t: Timestamp) -> Glibc.timespec {
        Glibc.timespec(tv_sec: Int(t.seconds), tv_nsec: Int(t.nanoseconds))
    }

    static func stat(_ ino: UInt64, _ a: NodeAttributes) -> Glibc.stat {
        var st = Glibc.stat()
        st.st_ino = UInt(ino)
        st.st_mode = a.stMode
        // Directories too: 1 is the "unknown" count `find` understands (a listing does not say
        // how many subdirectories a directory has without reading all of it).
        st.st_nlink = 1
        st.st_rdev = UInt(a.rdev)
        st.st_uid = a.uid
        st.st_gid = a.gid
        st.st_size = Int(a.size)
        st.st_blksize = 4096
        st.st_blocks = Int((a.size + 511) / 512)
        st.st_mtim = timespec(a.mtime)
        st.st_ctim = timespec(a.ctime)
        st.st_atim = timespec(a.atime)
        return st
    }
}

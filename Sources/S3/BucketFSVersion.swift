/// The one version of bucketfs: `bucketfs --version` prints it, and every S3 and identity
/// request carries it as `User-Agent: bucketfs/VERSION`.
public enum BucketFSVersion {
    public static let current = "0.2.0"
}

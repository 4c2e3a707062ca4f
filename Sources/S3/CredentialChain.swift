#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the credential chain may look at. Everything comes in explicitly (environment, home),
/// so the chain is tested without touching the real user's files.
public struct CredentialSources: Sendable {
    /// `-o passwd_file=`: an s3fs-style file; when given, only it is used.
    public var passwdFile: String?
    /// A profile named by the user (`-o profile=`): only profile sources are used.
    public var profile: String?
    /// The bucket being used, to pick `BUCKET:ACCESS:SECRET` lines of passwd files.
    public var bucket: String?
    public var environment: [String: String]
    public var home: String

    public init(passwdFile: String? = nil, profile: String? = nil, bucket: String? = nil,
                environment: [String: String], home: String? = nil) {
        self.passwdFile = passwdFile
        self.profile = profile
        self.bucket = bucket
        self.environment = environment
        self.home = home ?? environment["HOME"] ?? "/root"
    }

    func env(_ k: String) -> String? { environment[k].flatMap { $0.isEmpty ? nil : $0 } }

    /// bucketfs's EC2-credential file: `$BUCKETFS_CREDENTIALS_FILE` or `~/.config/bucketfs/credentials`.
    public var bucketfsFile: String {
        env("BUCKETFS_CREDENTIALS_FILE") ?? "\(env("XDG_CONFIG_HOME") ?? home + "/.config")/bucketfs/credentials"
    }
    var awsCredentialsFile: String { env("AWS_SHARED_CREDENTIALS_FILE") ?? home + "/.aws/credentials" }
    var awsConfigFile: String { env("AWS_CONFIG_FILE") ?? home + "/.aws/config" }
    var profileName: String { profile ?? env("BUCKETFS_PROFILE") ?? env("AWS_PROFILE") ?? "default" }
}

/// A profile of bucketfs's EC2-credential file: the keys and what else the identity service
/// said of them, plus optional connection settings.
public struct CredentialProfile: Sendable, Equatable {
    public var credentials: Credentials
    public var tenantId: String?
    public var userId: String?
    public var endpoint: String?
    public var region: String?
}

/// Finds credentials in a documented order (README "Credentials"):
/// 1. `passwd_file` when given (s3fs forms `ACCESS:SECRET`, `BUCKET:ACCESS:SECRET`);
/// 2. with an explicit profile: that profile in bucketfs's file, then in `~/.aws/credentials`,
///    then `~/.aws/config`;
/// 3. `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (/ `AWS_SESSION_TOKEN`) in the environment;
/// 4. the profile (`BUCKETFS_PROFILE`, `AWS_PROFILE` or `default`) in bucketfs's file, then the AWS files;
/// 5. s3fs's `AWSACCESSKEYID`/`AWSSECRETACCESSKEY`, then `~/.passwd-s3fs`, then `/etc/passwd-s3fs`.
/// Files that group or others can read are refused, as s3fs does.
public enum CredentialChain {
    public static func resolve(_ s: CredentialSources) throws -> Credentials {
        if let p = s.passwdFile {
            guard let c = try passwdFile(p, bucket: s.bucket, required: true) else {
                throw S3Error.credentials("no usable line in \(p)")
            }
            return c
        }
        if s.profile != nil {
            if let c = try profileSources(s) { return c }
            throw S3Error.credentials("profile \"\(s.profileName)\" not found in \(s.bucketfsFile), \(s.awsCredentialsFile) or \(s.awsConfigFile)")
        }
        if let a = s.env("AWS_ACCESS_KEY_ID"), let k = s.env("AWS_SECRET_ACCESS_KEY") {
            return Credentials(accessKey: a, secretKey: k, sessionToken: s.env("AWS_SESSION_TOKEN"), source: "environment")
        }
        if let c = try profileSources(s) { return c }
        if let a = s.env("AWSACCESSKEYID"), let k = s.env("AWSSECRETACCESSKEY") {
            return Credentials(accessKey: a, secretKey: k, source: "environment (AWSACCESSKEYID)")
        }
        for f in [s.home + "/.passwd-s3fs", "/etc/passwd-s3fs"] {
            if let c = try passwdFile(f, bucket: s.bucket, required: false) { return c }
        }
        throw S3Error.credentials("no credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            + "write \(s.bucketfsFile) (see `bucketfs credentials`), or name a passwd_file")
    }

    static func profileSources(_ s: CredentialSources) throws -> Credentials? {
        if let p = try bucketfsProfile(s) { return p.credentials }
        let name = s.profileName
        if let ini = try readIni(s.awsCredentialsFile, checkMode: true), let sec = ini[name],
           let c = awsKeys(sec, source: "\(s.awsCredentialsFile) [\(name)]") {
            return c
        }
        if let ini = try readIni(s.awsConfigFile, checkMode: true) {
            let sec = ini[name == "default" ? "default" : "profile \(name)"] ?? ini["profile \(name)"]
            if let sec, let c = awsKeys(sec, source: "\(s.awsConfigFile) [\(name)]") { return c }
        }
        return nil
    }

    static func awsKeys(_ sec: [String: String], source: String) -> Credentials? {
        guard let a = sec["aws_access_key_id"], let k = sec["aws_secret_access_key"], !a.isEmpty, !k.isEmpty else { return nil }
        return Credentials(accessKey: a, secretKey: k, sessionToken: sec["aws_session_token"], source: source)
    }

    /// The named profile of bucketfs's EC2-credential file, if the file and profile exist.
    public static func bucketfsProfile(_ s: CredentialSources) throws -> CredentialProfile? {
        let path = s.bucketfsFile
        guard let ini = try readIni(path, checkMode: true), let sec = ini[s.profileName] else { return nil }
        guard let a = sec["access"] ?? sec["aws_access_key_id"], let k = sec["secret"] ?? sec["aws_secret_access_key"],
              !a.isEmpty, !k.isEmpty else {
            throw S3Error.credentials("\(path) [\(s.profileName)] needs both access and secret")
        }
        return CredentialProfile(credentials: Credentials(accessKey: a, secretKey: k, sessionToken: sec["session_token"],
                                                          source: "\(path) [\(s.profileName)]"),
                                 tenantId: sec["tenant_id"], userId: sec["user_id"], endpoint: sec["endpoint"],
                                 region: sec["region"])
    }

    /// Reads a file's text; nil if it does not exist. With `checkMode`, refuses files that group
    /// or others may read or write.
    public static func readFile(_ path: String, checkMode: Bool) throws -> String? {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw S3Error.credentials("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw S3Error.credentials("\(path) is not a regular file") }
        if checkMode && (st.st_mode & 0o077) != 0 {
            throw S3Error.credentials("\(path) is accessible by group or others (mode \(String(st.st_mode & 0o777, radix: 8))); "
                + "run: chmod 600 \(path)")
        }
        guard let f = fopen(path, "r") else {
            throw S3Error.credentials("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            bytes += buf[0..<n]
            if bytes.count > 1 << 20 { throw S3Error.credentials("\(path) is larger than 1 MiB") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func readIni(_ path: String, checkMode: Bool) throws -> IniFile? {
        guard let text = try readFile(path, checkMode: checkMode) else { return nil }
        do {
            return try IniFile(text: text)
        } catch let e as S3Error {
            throw S3Error.credentials("\(path): \(e)")
        }
    }

    /// Reads an s3fs passwd file. A `BUCKET:ACCESS:SECRET` line for `bucket` wins; otherwise the
    /// first `ACCESS:SECRET` line. The secret is what follows the last ':' (secrets have none),
    /// so an access key may itself hold ':' (Swift's `tenant:user`): write such keys as
    /// `BUCKET:tenant:user:SECRET`, or alone in the file as `tenant:user:SECRET`.
    public static func passwdFile(_ path: String, bucket: String?, required: Bool) throws -> Credentials? {
        guard let text = try readFile(path, checkMode: true) else {
            if required { throw S3Error.credentials("passwd file \(path) does not exist") }
            return nil
        }
        let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" })
            .map { String($0).trimmingSpaces }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        func split(_ line: String) -> (access: String, secret: String)? {
            guard let colon = line.lastIndex(of: ":") else { return nil }
            let a = String(line[..<colon]), k = String(line[line.index(after: colon)...])
            return a.isEmpty || k.isEmpty ? nil : (a, k)
        }
        if let bucket {
            for line in lines where line.hasPrefix(bucket + ":") {
                let rest = String(line.dropFirst(bucket.count + 1))
                if rest.contains(":"), let (a, k) = split(rest) {
                    return Credentials(accessKey: a, secretKey: k, source: "\(path) (bucket \(bucket))")
                }
            }
        }
        if let line = lines.first(where: { $0.split(separator: ":", omittingEmptySubsequences: false).count == 2 }),
           let (a, k) = split(line) {
            return Credentials(accessKey: a, secretKey: k, source: path)
        }
        if lines.count == 1, let (a, k) = split(lines[0]) {
            return Credentials(accessKey: a, secretKey: k, source: path)
        }
        if required {
            throw S3Error.credentials("no usable line in \(path): expected ACCESS:SECRET or \(bucket ?? "BUCKET"):ACCESS:SECRET")
        }
        return nil
    }
}

import ArgumentParser
import Foundation
import Glibc
import Identity
import S3

/// Files under `~/.config/bucketfs/`, written atomically with mode 0600.
enum ConfigFiles {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }
    static var credentialsPath: String { CredentialSources(environment: environment).bucketfsFile }
    static var tokenPath: String {
        environment["BUCKETFS_TOKEN_FILE"] ?? (credentialsPath as NSString).deletingLastPathComponent + "/token"
    }

    /// Writes `text` to `path` through a temporary file and rename, mode 0600, creating the directory (0700).
    static func writeAtomically(_ text: String, to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let tmp = path + ".tmp.\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw IdentityError.usage("cannot write \(tmp): \(String(cString: strerror(errno)))") }
        let ok = text.withCString { p -> Bool in
            let n = strlen(p)
            return write(fd, p, n) == n && fsync(fd) == 0
        }
        close(fd)
        guard ok, rename(tmp, path) == 0 else {
            unlink(tmp)
            throw IdentityError.usage("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// The saved login: token, expiry, user and tenant, and the identity URL it came from.
struct SavedLogin: Codable {
    var identityURL: String
    var token: String
    var expires: String?
    var userId: String
    var tenantId: String?

    static func load() throws -> SavedLogin {
        guard let text = try CredentialChain.readFile(ConfigFiles.tokenPath, checkMode: true) else {
            throw IdentityError.usage("not logged in: run `bucketfs credentials login` first")
        }
        do { return try JSONDecoder().decode(SavedLogin.self, from: Data(text.utf8)) } catch {
            throw IdentityError.usage("\(ConfigFiles.tokenPath) is damaged: log in again")
        }
    }

    func save() throws {
        let data = try JSONEncoder().encode(self)
        try ConfigFiles.writeAtomically(String(decoding: data, as: UTF8.self), to: ConfigFiles.tokenPath)
    }
}

struct IdentityOptions: ParsableArguments {
    /// The identity service that the KR1 service's guide names (its OS-EC2 credentials live at
    /// `{identity}/v2.0/users/{user-id}/credentials/OS-EC2`).
    static let kr1IdentityURL = "https://api-compute.cloud.toast.com/identity"

    @Option(name: .customLong("identity-url"), help: "Identity service URL (default: the saved login's, then BUCKETFS_IDENTITY_URL, then OS_AUTH_URL, then the preset's).")
    var identityURL: String?
    @Option(help: "The service's preset: kr1 takes its identity service, \(IdentityOptions.kr1IdentityURL), when no URL is given.")
    var preset: String?
    @Flag(help: "Emit JSON.") var json = false

    func validate() throws {
        if let p = preset, p.lowercased() != "kr1" { throw ValidationError("unknown preset \(p); known: kr1") }
    }

    /// The identity URL in force; none is a usage error (exit 64).
    func resolveURL(saved: SavedLogin?) throws -> String {
        let env = ProcessInfo.processInfo.environment
        let presetURL = preset?.lowercased() == "kr1" ? Self.kr1IdentityURL : nil
        guard let url = identityURL ?? saved?.identityURL ?? env["BUCKETFS_IDENTITY_URL"] ?? env["OS_AUTH_URL"] ?? presetURL else {
            printError("bucketfs: no identity URL: pass --identity-url or --preset kr1, or set BUCKETFS_IDENTITY_URL or OS_AUTH_URL")
            throw ExitCode(ExitStatus.usage.rawValue)
        }
        return url
    }
}

/// Runs `body`; an `IdentityError` it throws (a missing password, say) is one line and its exit code.
func explainingIdentityErrors<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as IdentityError {
        printError("bucketfs: \(e)")
        throw ExitCode(e.exitCode)
    }
}

/// Runs an identity action; one clear line and a distinct exit code on failure.
func runIdentity(_ url: String, _ body: @escaping @Sendable (IdentityClient) async throws -> Void) throws {
    do {
        let client = try IdentityClient(baseURL: url, userAgent: "bucketfs/\(BucketFSVersion.current)")
        defer { try? Blocking.run { try await client.shutdown() } }
        try Blocking.run { try await body(client) }
    } catch let e as IdentityError {
        printError("bucketfs: \(e)")
        throw ExitCode(e.exitCode)
    } catch let e as ExitCode {
        throw e
    } catch let e as S3Error {
        printError("bucketfs: \(e)")
        throw ExitCode(ExitStatus.denied.rawValue)
    }
}

/// Reads a password: from standard input with --password-stdin, from BUCKETFS_PASSWORD or
/// OS_PASSWORD, or from a prompt on the terminal with echo off.
func readPassword(stdin: Bool) throws -> String {
    if stdin {
        guard let line = readLine(strippingNewline: true), !line.isEmpty else { throw IdentityError.usage("no password on standard input") }
        return line
    }
    let env = ProcessInfo.processInfo.environment
    if let p = env["BUCKETFS_PASSWORD"] ?? env["OS_PASSWORD"], !p.isEmpty { return p }
    guard isatty(0) == 1 else { throw IdentityError.usage("no password: use --password-stdin or set BUCKETFS_PASSWORD") }
    var old = termios()
    tcgetattr(0, &old)
    var quiet = old
    quiet.c_lflag &= ~tcflag_t(ECHO)
    tcsetattr(0, TCSANOW, &quiet)
    defer { tcsetattr(0, TCSANOW, &old); printError("") }
    "Password: ".withCString { p in _ = write(2, p, strlen(p)) }
    guard let line = readLine(strippingNewline: true), !line.isEmpty else { throw IdentityError.usage("no password given") }
    return line
}

/// `bucketfs credentials login|create|list|delete`: EC2 credentials from the identity service.
struct CredentialsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "credentials",
                                                    abstract: "Get EC2 credentials from the identity service and save them for mounts.",
                                                    subcommands: [Login.self, Create.self, List.self, Delete.self])

    struct Login: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Get a token (saved, mode 0600, for the other subcommands).")
        @OptionGroup var identity: IdentityOptions
        @Option(name: .customLong("tenant-id"), help: "Tenant (project) id.") var tenantId: String
        @Option(help: "User name (the login, often an e-mail address).") var username: String
        @Flag(name: .customLong("password-stdin"), help: "Read the password from standard input.") var passwordStdin = false
        @Flag(name: .customLong("show-token"), help: "Print the token.") var showToken = false
        func run() throws {
            let url = try identity.resolveURL(saved: nil)
            let password = try explainingIdentityErrors { try readPassword(stdin: passwordStdin) }
            let (tenant, user, show, json) = (tenantId, username, showToken, identity.json)
            try runIdentity(url) { c in
                let t = try await c.token(tenantId: tenant, username: user, password: password)
                try SavedLogin(identityURL: c.baseURL, token: t.id, expires: t.expires, userId: t.userId, tenantId: t.tenantId).save()
                if json {
                    var out: [String: Any] = ["user_id": t.userId, "tenant_id": t.tenantId ?? tenant, "expires": t.expires ?? ""]
                    if show { out["token"] = t.id }
                    printJSON(out)
                } else {
                    print("logged in: user \(t.userId), tenant \(t.tenantId ?? tenant), token expires \(t.expires ?? "-")")
                    if show { print("token: \(t.id)") }
                }
            }
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create EC2 credentials and save them as a profile.")
        @OptionGroup var identity: IdentityOptions
        @Option(name: .customLong("tenant-id"), help: "Tenant (default: the login's).") var tenantId: String?
        @Option(help: "Profile to write in the credential file.") var profile = "default"
        @Option(help: "S3 endpoint URL to save with the profile.") var endpoint: String?
        @Option(help: "Region to save with the profile.") var region: String?
        @Flag(help: "Replace a profile that holds other keys.") var force = false
        @Flag(name: .customLong("show-secret"), help: "Print the secret key.") var showSecret = false
        func run() throws {
            let saved = try explainingIdentityErrors { try SavedLogin.load() }
            let url = try identity.resolveURL(saved: saved)
            guard let tenant = tenantId ?? saved.tenantId else { throw IdentityError.usage("no tenant: pass --tenant-id") }
            let path = ConfigFiles.credentialsPath
            let ini = try CredentialChain.readFile(path, checkMode: true).map { try IniFile(text: $0) } ?? IniFile()
            if let existing = ini[profile], !force {
                printError("bucketfs: profile [\(profile)] in \(path) already holds keys (access \(existing["access"] ?? "?")); use --force or another --profile")
                throw ExitCode(ExitStatus.failure.rawValue)
            }
            let (profile, endpoint, region, show, json) = (profile, endpoint, region, showSecret, identity.json)
            let iniCopy = ini
            try runIdentity(url) { c in
                var ini = iniCopy
                let cred = try await c.createEC2(userId: saved.userId, tenantId: tenant, token: saved.token)
                var values = ["access": cred.access, "secret": cred.secret, "tenant_id": cred.tenantId ?? tenant, "user_id": cred.userId ?? saved.userId]
                if let endpoint { values["endpoint"] = endpoint }
                if let region { values["region"] = region }
                ini.set(section: profile, values: values)
                try ConfigFiles.writeAtomically(ini.text, to: path)
                if json {
                    var out: [String: Any] = ["access": cred.access, "profile": profile, "file": path]
                    if show { out["secret"] = cred.secret }
                    printJSON(out)
                } else {
                    print("created EC2 credentials \(cred.access); saved as [\(profile)] in \(path)")
                    if show { print("secret: \(cred.secret)") }
                }
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the user's EC2 credentials (secrets masked).")
        @OptionGroup var identity: IdentityOptions
        @Flag(name: .customLong("show-secret"), help: "Print the secret keys.") var showSecret = false
        func run() throws {
            let saved = try explainingIdentityErrors { try SavedLogin.load() }
            let url = try identity.resolveURL(saved: saved)
            let (show, json) = (showSecret, identity.json)
            try runIdentity(url) { c in
                let list = try await c.listEC2(userId: saved.userId, token: saved.token)
                func secret(_ s: String) -> String { show ? s : "****" }
                if json {
                    printJSON(list.map { ["access": $0.access, "secret": secret($0.secret), "tenant_id": $0.tenantId ?? "", "user_id": $0.userId ?? ""] })
                } else {
                    printTable(["ACCESS", "SECRET", "TENANT"], list.map { [$0.access, secret($0.secret), $0.tenantId ?? "-"] })
                }
            }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete EC2 credentials at the service (and, with a flag, from the file).")
        @OptionGroup var identity: IdentityOptions
        @Argument(help: "The access key.") var access: String
        @Flag(name: .customLong("remove-profile"), help: "Also remove profiles holding this access key.") var removeProfile = false
        func run() throws {
            let saved = try explainingIdentityErrors { try SavedLogin.load() }
            let url = try identity.resolveURL(saved: saved)
            let (access, remove) = (access, removeProfile)
            try runIdentity(url) { c in
                try await c.deleteEC2(userId: saved.userId, access: access, token: saved.token)
                print("deleted \(access) at the identity service")
                guard remove else { return }
                let path = ConfigFiles.credentialsPath
                guard let text = try CredentialChain.readFile(path, checkMode: true) else { return }
                var ini = try IniFile(text: text)
                let names = ini.order.filter { ini[$0]?["access"] == access }
                for n in names { ini.remove(section: n) }
                try ConfigFiles.writeAtomically(ini.text, to: path)
                if !names.isEmpty { print("removed profile(s) \(names.joined(separator: ", ")) from \(path)") }
            }
        }
    }
}

import NIOSSL

/// A failed TLS handshake told as one sentence that says what to do: the library's error (with
/// its BoringSSL stack and build paths) never reaches a message.
struct TLSFailure {
    let sentence: String

    init?(_ error: any Error, host: String) {
        let text = String(describing: error)
        let isTLS = error is NIOSSLError || error is NIOSSLExtraError || text.contains("handshakeFailed")
            || text.contains("CERTIFICATE_VERIFY_FAILED")
        guard isTLS else { return nil }
        let fix = "give the CA that signed it with -o ca_bundle=FILE (or AWS_CA_BUNDLE), or turn checks off with -o no_check_certificate"
        if text.contains("failedToValidateHostname") || text.contains("hostname") {
            sentence = "TLS handshake with \(host) failed: its certificate is not valid for the host name \(host); use the name the certificate was made for, or \(fix)"
        } else if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificate verify failed") {
            sentence = "TLS handshake with \(host) failed: its certificate is not trusted; \(fix)"
        } else if text.contains("WRONG_VERSION_NUMBER") || text.contains("wrong version number") {
            sentence = "TLS handshake with \(host) failed: the server does not speak TLS on this port (is the URL http://?)"
        } else {
            sentence = "TLS handshake with \(host) failed (the server's TLS settings and bucketfs's do not agree)"
        }
    }
}

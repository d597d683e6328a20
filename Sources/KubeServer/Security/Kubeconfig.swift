// The admin kubeconfig, in k3s's layout (`/etc/rancher/k3s/k3s.yaml`): one cluster, one user and one context, all
// named `default`, with the CA and the client certificate inlined as base64 PEM so the file stands alone. Keys are
// written in the order `kubectl config view` prints them. Every value is base64 or a URL without YAML-special
// characters, so plain text is enough; `server` is double-quoted in case it carries a `#` or `: `.
import Foundation

/// Writes kubeconfig files for kubectl.
public enum Kubeconfig {
    /// The mode k3s writes its kubeconfig with unless `--write-kubeconfig-mode` says otherwise.
    public static let defaultMode: mode_t = 0o600

    /// The kubeconfig YAML for `server`, trusting `certificateAuthorityPEM` and authenticating with a client pair.
    public static func render(
        server: String,
        certificateAuthorityPEM: String,
        clientCertificatePEM: String,
        clientKeyPEM: String
    ) -> String {
        func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
        // A YAML double-quoted scalar: only backslash and the quote itself need escaping in a URL.
        let escapedServer = server.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "\"", with: "\\\"")
        return """
            apiVersion: v1
            clusters:
            - cluster:
                certificate-authority-data: \(base64(certificateAuthorityPEM))
                server: "\(escapedServer)"
              name: default
            contexts:
            - context:
                cluster: default
                user: default
              name: default
            current-context: default
            kind: Config
            preferences: {}
            users:
            - name: default
              user:
                client-certificate-data: \(base64(clientCertificatePEM))
                client-key-data: \(base64(clientKeyPEM))

            """
    }

    /// Writes `contents` to `path` atomically with exactly `mode`, creating missing parent directories (0755).
    public static func write(_ contents: String, to path: String, mode: mode_t = Self.defaultMode) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try SecureFiles.ensureDirectory(directory, enforcedMode: nil)
        }
        try SecureFiles.writeAtomically(contents, to: path, mode: mode)
    }

    /// Parses a `--write-kubeconfig-mode` value such as `"0644"` or `"644"` (octal, at most `0777`).
    public static func parseMode(_ text: String) throws -> mode_t {
        let digits = text.hasPrefix("0o") ? String(text.dropFirst(2)) : text
        guard !digits.isEmpty, digits.count <= 4, digits.allSatisfy({ ("0"..."7").contains($0) }),
            let value = UInt16(digits, radix: 8), value <= 0o777
        else {
            throw KubeSecurityError(
                code: .invalidArgument, message: "invalid kubeconfig mode \"\(text)\": want octal like 0644")
        }
        return mode_t(value)
    }
}

extension ClusterPKI {
    /// Writes the admin kubeconfig (`system:admin`) for `server`, e.g. `https://127.0.0.1:6443`, to `path`.
    public func writeAdminKubeconfig(to path: String, server: String, mode: mode_t = Kubeconfig.defaultMode) throws {
        let contents = Kubeconfig.render(
            server: server, certificateAuthorityPEM: self.certificateAuthorityPEM,
            clientCertificatePEM: self.adminCertificatePEM, clientKeyPEM: self.adminKeyPEM)
        try Kubeconfig.write(contents, to: path, mode: mode)
    }
}

/// The stable error codes of the `0x7F` error message. Raw values are the wire strings.
public enum WireErrorCode: String, CaseIterable, Hashable, Sendable {
    case malformedFrame = "malformed_frame"
    case frameTooLarge = "frame_too_large"
    case unsupportedVersion = "unsupported_version"
    case unknownType = "unknown_type"
    case malformedField = "malformed_field"
    case adminOnly = "admin_only"
    case unknownReservation = "unknown_reservation"
    case unknownTenant = "unknown_tenant"
    case badRequest = "bad_request"
    case policyInvalid = "policy_invalid"
    case unavailable = "unavailable"
    case shuttingDown = "shutting_down"
    case tooManyConnections = "too_many_connections"
    case permissionDenied = "permission_denied"

    /// After these the server closes the connection: the byte stream can no longer be trusted, or
    /// the server will not serve it.
    public var closesConnection: Bool {
        switch self {
        case .malformedFrame, .frameTooLarge, .unsupportedVersion, .unknownType, .malformedField, .shuttingDown, .tooManyConnections,
             .permissionDenied:
            return true
        case .adminOnly, .unknownReservation, .unknownTenant, .badRequest, .policyInvalid, .unavailable:
            return false
        }
    }
}

/// A protocol error: what goes into an error reply. `message` is for humans and never holds a
/// key secret.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: WireErrorCode
    public var message: String

    public init(_ code: WireErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

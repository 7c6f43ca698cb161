/// One problem found in a policy file, located at the offending node.
///
/// Lines and columns are 1-based; columns count Unicode scalars, as libyaml does. The message names
/// the field and the entity it belongs to and never contains a secret (the file holds only hashes,
/// and hash fields are never echoed back).
public struct PolicyProblem: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// `FILE:LINE:COLUMN: message`, the format compilers use, so editors can jump to the spot.
    public var description: String { "\(file):\(line):\(column): \(message)" }
}

/// Every problem found in a policy file, in file order. Thrown by `PolicyParser`.
public struct PolicyValidationError: Error, Sendable, CustomStringConvertible {
    public var problems: [PolicyProblem]

    public init(problems: [PolicyProblem]) {
        self.problems = problems
    }

    /// One problem per line, without a trailing newline.
    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}

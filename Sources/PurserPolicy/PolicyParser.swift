#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads policy files: YAML, or JSON (which YAML parsing accepts as is), version 1.
///
/// Parsing and validation are one pass that collects every problem it finds, each located at the
/// offending node, and sorted in file order. A `Policy` is returned only when there are none.
public enum PolicyParser {
    /// Parses and validates. `fileName` is used in problems. Throws PolicyValidationError with every problem found.
    ///
    /// A file in the plain YAML or JSON that policies are written in is read by `PolicyFastParser`;
    /// if that parser declines, or the validator finds any problem in its tree, the text is read
    /// again through Yams, so that every problem is reported exactly as the Yams path words and
    /// places it. The fast path therefore only ever accepts files.
    public static func parse(_ text: String, fileName: String) throws(PolicyValidationError) -> Policy {
        guard text.utf8.count <= PolicyLimits.policyFileBytesMax else {
            throw fail([(.start, "the policy file is larger than the limit of \(PolicyLimits.policyFileBytesMax) bytes")], fileName: fileName)
        }
        if let policy = parseFast(text) { return policy }
        return try parseThroughYams(text, fileName: fileName)
    }

    /// The policy when the fast parser reads `text` and the validator finds no problem in it.
    static func parseFast(_ text: String) -> Policy? {
        guard let tree = PolicyFastParser.tree(of: text) else { return nil }
        return PolicyValidator(tree: tree).validate(tree.root)
    }

    /// Parses and validates through Yams alone (the path every problem is reported from).
    static func parseThroughYams(_ text: String, fileName: String) throws(PolicyValidationError) -> Policy {
        guard text.utf8.count <= PolicyLimits.policyFileBytesMax else {
            throw fail([(.start, "the policy file is larger than the limit of \(PolicyLimits.policyFileBytesMax) bytes")], fileName: fileName)
        }
        let document = PolicyDocument.load(text)
        guard document.composed else { throw fail(document.problems, fileName: fileName) }
        let tree = YamsNodeConverter.tree(document.root, plainScalarsUnresolved: document.plainScalarsUnresolved)
        let validator = PolicyValidator(tree: tree, restoredKeys: document.restoredKeys)
        guard let policy = validator.validate(tree.root) else { throw fail(validator.problems, fileName: fileName) }
        return policy
    }

    private static func fail(_ found: [(position: SourcePosition, message: String)], fileName: String) -> PolicyValidationError {
        var seen: Set<PolicyProblem> = []
        let problems = found.enumerated()
            .sorted { ($0.element.position, $0.offset) < ($1.element.position, $1.offset) }
            .map { PolicyProblem(file: fileName, line: $0.element.position.line, column: $0.element.position.column, message: $0.element.message) }
            .filter { seen.insert($0).inserted }  // an aliased node is walked once per use
        return PolicyValidationError(problems: problems)
    }

    /// Reads the file (size limit PolicyLimits.policyFileBytesMax, reported as a problem at 1:1 if exceeded or unreadable, or if not valid UTF-8) and parses it.
    public static func parse(contentsOfFile path: String) throws(PolicyValidationError) -> Policy {
        try load(contentsOfFile: path).policy
    }

    /// Reads, parses and validates a file, and names the result by the SHA-256 of the very bytes
    /// parsed: the policy version the ledger records, so two loads of the same file agree.
    public static func load(contentsOfFile path: String) throws(PolicyValidationError) -> LoadedPolicy {
        func fail(_ message: String) -> PolicyValidationError {
            PolicyValidationError(problems: [PolicyProblem(file: path, line: 1, column: 1, message: message)])
        }
        var bytes: [UInt8]
        switch readFile(path, limit: PolicyLimits.policyFileBytesMax) {
        case .success(let contents): bytes = contents
        case .failure(let reason): throw fail(reason.message)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw fail("the policy file is not valid UTF-8 (first bad byte at offset \(invalidUTF8Offset(bytes)))")
        }
        let version = PolicyVersion.of(bytes)
        // The text holds the same bytes: let the copy go before the parse, the peak of memory use.
        bytes = []
        return LoadedPolicy(policy: try parse(text, fileName: path), version: version)
    }

    struct ReadFailure: Error {
        var message: String
    }

    /// Reads at most `limit` bytes; a longer file is a failure, not a truncation.
    static func readFile(_ path: String, limit: Int) -> Result<[UInt8], ReadFailure> {
        func systemError(_ what: String) -> ReadFailure {
            ReadFailure(message: "cannot \(what) the policy file: \(String(cString: strerror(errno)))")
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return .failure(systemError("open")) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        // Sized up front when the size is known: growing a 23 MB array by doubling copies it again and again.
        var status = stat()
        if fstat(descriptor, &status) == 0, status.st_size > 0 {
            bytes.reserveCapacity(Int(min(Int64(status.st_size), Int64(limit))) + 1)
        }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(systemError("read"))
            }
            if count == 0 { return .success(bytes) }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > limit {
                return .failure(ReadFailure(message: "the policy file is larger than the limit of \(limit) bytes"))
            }
        }
    }

    /// The offset of the first byte that does not belong to a valid UTF-8 sequence.
    static func invalidUTF8Offset(_ bytes: [UInt8]) -> Int {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .emptyInput: return offset
            case .error: return offset
            }
        }
    }
}

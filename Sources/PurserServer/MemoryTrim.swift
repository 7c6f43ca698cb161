#if canImport(Glibc)
import Glibc
#endif

/// Hands memory freed by a policy parse back to the kernel. Parsing a large policy allocates
/// hundreds of megabytes of short-lived nodes; glibc keeps freed memory in its arenas, so without
/// this the daemon's resident size would stay at the parse's peak for its whole life.
enum MemoryTrim {
    private typealias MallocTrim = @convention(c) (Int) -> Int32

    /// glibc's `malloc_trim`, which Swift's Glibc module does not export (it lives in malloc.h);
    /// looked up once, and absent on other C libraries.
    private static let mallocTrim: MallocTrim? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: MallocTrim.self)
        #else
        return nil
        #endif
    }()

    static func releaseFreedMemory() {
        _ = mallocTrim?(0)
    }

    private typealias MallocOption = @convention(c) (Int32, Int32) -> Int32

    /// glibc's `mallopt`, for the same reason as `malloc_trim`.
    private static let mallocOption: MallocOption? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return nil }
        return unsafeBitCast(symbol, to: MallocOption.self)
        #else
        return nil
        #endif
    }()

    /// glibc's `M_ARENA_MAX` (malloc.h).
    private static let arenaCountMaxOption: Int32 = -8

    /// Makes every thread allocate from one glibc arena. By default each thread that allocates
    /// (the event loop, the reload queue, the ledger, the syncer) may get its own arena, and
    /// freed parse memory stays stranded in whichever arena the reload happened to run on:
    /// measured with 100,000 keys, five reloads left 45 MiB of heap resident with per-thread
    /// arenas and 25 MiB with one. The daemon is one busy loop thread; the lock is uncontended.
    static func useOneArena() {
        _ = mallocOption?(arenaCountMaxOption, 1)
    }
}
